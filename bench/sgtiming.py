"""The security-group phases of bench/dataplane.py (imported as `sgtiming` beside it).

- `sg_change`: API call -> traffic changes, for a rule added and removed. Two ports are bound
  to the network host and, when the bench runs there as root, their taps are opened in the
  dataplane namespace and played as guests (`tapwire`): SYNs from one to the other every
  2 ms; the rule's effect is the first SYN through (added) or the first of the SYNs that no
  longer pass (removed).
- `sg_apply`: a port bound with a group of `--rules` rules, and `--ports` ports at once, until
  ACTIVE (the dataplane reports a port up only once its rules are in), beside the same with a
  group without rules, so that the difference is what the rules cost.
- `sg_local`: the same rules applied by the linuxbridge firewall alone, on this host.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import time
import uuid
from typing import Any

import stats

SETTLE = 5.0  # seconds for the dataplane to finish removing the ports of a timing


class Ports:
    """Ports bound to the network host on a network of the bench's own."""

    def __init__(self, bench: Any) -> None:
        self.bench, self.conn = bench, bench.conn
        self.name = f"{bench.prefix}-sg"
        net = self.conn.network.create_network(name=self.name)
        bench.cleanup.append(lambda: self.conn.network.delete_network(net))
        bench.cleanup.append(self.delete_all)
        self.conn.network.create_subnet(
            network_id=net.id, ip_version=4, cidr="10.253.0.0/20", is_dhcp_enabled=False
        )
        self.network = net
        # Room for the rules and ports (an admin may raise its own project's quotas).
        self.conn.network.update_quota(
            self.conn.current_project_id, security_group_rules=-1, ports=-1
        )
        agents = [a for a in self.conn.network.agents() if a.agent_type == "Linux bridge agent"]
        if not agents:
            raise RuntimeError("no Linux bridge agent: these phases need the linuxbridge driver")
        self.host = agents[0].host

    def group(self, name: str) -> Any:
        found = self.conn.network.create_security_group(name=f"{self.name}-{name}")
        # Its ports go first (a group in use cannot be deleted).
        self.bench.cleanup.append(
            lambda: (self.delete_all(), self.conn.network.delete_security_group(found))
        )
        return found

    def port(self, group: Any) -> Any:
        return self.conn.network.create_port(
            network_id=self.network.id, security_group_ids=[group.id], name=self.name,
            binding_host_id=self.host, device_owner="compute:bench", device_id=str(uuid.uuid4()),
        )  # fmt: skip

    def active(self, port_ids: list[str], timeout: float = 300.0) -> None:
        left, deadline = set(port_ids), time.monotonic() + timeout
        while left:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(left)} ports not ACTIVE after {timeout} s")
            for port in self.conn.network.ports(name=self.name):
                if port.status == "ACTIVE":
                    left.discard(port.id)
            time.sleep(0.02)

    def delete_all(self) -> None:
        for port in self.conn.network.ports(name=self.name):
            self.conn.network.delete_port(port, ignore_missing=True)


def sg_apply(bench: Any) -> dict[str, Any]:
    ports, args = Ports(bench), bench.args
    big, empty = ports.group("rules"), ports.group("empty")
    started = time.monotonic()
    with cf.ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda i: bench.conn.network.create_security_group_rule(
                    security_group_id=big.id,
                    direction="ingress",
                    protocol="tcp",
                    port_range_min=1000 + i,
                    port_range_max=1000 + i,
                ),  # fmt: skip
                range(args.rules),
            )
        )
    out: dict[str, Any] = {
        "rules": args.rules,
        "rules_created_per_s": round(args.rules / (time.monotonic() - started), 1),
    }
    for label, group in (("no_rules", empty), ("with_rules", big)):
        times = []
        for _ in range(3):
            start = time.monotonic()
            port = ports.port(group)
            ports.active([port.id])
            times.append((time.monotonic() - start) * 1000)
            bench.conn.network.delete_port(port)
        out[f"one_port_{label}"] = stats.summary(times)
        start = time.monotonic()
        with cf.ThreadPoolExecutor(16) as pool:
            made = list(pool.map(ports.port, [group] * args.ports))
        ports.active([p.id for p in made])
        out[f"{args.ports}_ports_{label}_ms"] = round((time.monotonic() - start) * 1000, 1)
        with cf.ThreadPoolExecutor(16) as pool:
            list(pool.map(bench.conn.network.delete_port, made))
        # The dataplane removes those ports after the API forgets them: let it finish, so the
        # next figure is not the time it takes to remove a hundred ports.
        time.sleep(SETTLE)
    return out


def sg_change(bench: Any) -> dict[str, Any]:
    args = bench.args
    if os.geteuid() != 0 or not os.path.exists(f"/run/netns/{args.dataplane}"):
        return {"skipped": f"needs root on the network host (namespace {args.dataplane})"}
    import tapwire

    ports = Ports(bench)
    sender, receiver = ports.group("sender"), ports.group("receiver")  # new groups: egress only
    a, z = ports.port(sender), ports.port(receiver)
    ports.active([a.id, z.id])
    src, dst = a.fixed_ips[0]["ip_address"], z.fixed_ips[0]["ip_address"]
    ta = tapwire.Tap(args.dataplane, f"oct{a.id[:11]}")
    tz = tapwire.Tap(args.dataplane, f"oct{z.id[:11]}")
    sport = 20000

    def send() -> tuple[int, float]:
        nonlocal sport
        sport = 20000 + (sport - 19999) % 40000
        ta.send(tapwire.syn(a.mac_address, z.mac_address, src, dst, sport, 22))
        return sport, time.monotonic()

    added, removed = [], []
    try:
        for _ in range(args.repeat):
            start = time.monotonic()
            rule = bench.conn.network.create_security_group_rule(
                security_group_id=receiver.id, direction="ingress", protocol="tcp",
                port_range_min=22, port_range_max=22,
            )  # fmt: skip
            while time.monotonic() - start < 10:
                sent, _ = send()
                if sent in tz.syn_ports(dst, 22, wait=0.002):
                    added.append((time.monotonic() - start) * 1000)
                    break
            start = time.monotonic()
            bench.conn.network.delete_security_group_rule(rule)
            sends: dict[int, float] = {}
            through: set[int] = set()
            quiet_since = start
            while time.monotonic() - quiet_since < 0.3 and time.monotonic() - start < 10:
                sent, at = send()
                sends[sent] = at
                got = tz.syn_ports(dst, 22, wait=0.002)
                through.update(got)
                if got:
                    quiet_since = time.monotonic()
            last = max((sends[p] for p in through if p in sends), default=start)
            cut = [t for p, t in sends.items() if t > last and p not in through]
            removed.append((min(cut, default=last) - start) * 1000)
            time.sleep(0.2)
    finally:
        ta.close()
        tz.close()
    return {"rule_added_live": stats.summary(added), "rule_removed_live": stats.summary(removed)}


async def sg_local(bench: Any) -> dict[str, Any]:
    """The firewall alone (no API, no agent), in a scratch namespace of the bench's own on
    this host: `--rules` rules on one port, then on `--ports` ports, then one rule added to
    and removed from the group they share."""
    import dataclasses

    from overcast.network import drivers
    from overcast.network.drivers.linuxbridge import firewall, netns

    args = bench.args
    if os.geteuid() != 0:
        return {"skipped": "needs root"}
    space = f"ocbench{uuid.uuid4().hex[:8]}"
    await netns.ensure(space)
    bench.made.append(space)
    rules = tuple(
        drivers.Rule("ingress", "IPv4", "tcp", 1000 + i, 1000 + i, None, None)
        for i in range(args.rules)
    ) + (drivers.Rule("egress", "IPv4", None, None, None, None, None),)
    group = drivers.SecurityGroup(str(uuid.uuid4()), True, rules, ())
    net = str(uuid.uuid4())

    def port(i: int) -> drivers.Port:
        return drivers.Port(
            id=str(uuid.uuid4()), network_id=net, mac_address=f"fa:16:3e:00:{i >> 8:02x}:{i & 255:02x}",
            fixed_ips=(("s", f"10.252.{i >> 8}.{i & 255}"),), admin_state_up=True,
            device_owner="compute:bench", device_id="bench", vif_type="bridge",
            security_groups=(group.id,),
        )  # fmt: skip

    async def timed(call: Any) -> float:
        started = time.monotonic()
        await call
        return round((time.monotonic() - started) * 1000, 1)

    out: dict[str, Any] = {"rules": args.rules, "ports": args.ports}
    fw = firewall.Firewall(space)
    one = drivers.HostState(host="bench", ports=(port(1),), security_groups=(group,))
    out["one_port_ms"] = await timed(fw.apply(one))
    many = drivers.HostState(
        host="bench", ports=tuple(port(i + 1) for i in range(args.ports)), security_groups=(group,)
    )
    out["ports_added_to_one_ms"] = await timed(fw.apply(many))
    # The same tables replaced whole, as at a start (so `fw`'s idea of the kernel stays true).
    out["ports_whole_ms"] = await timed(firewall.Firewall(space).apply(many))
    more = dataclasses.replace(
        group, rules=(*rules, drivers.Rule("ingress", "IPv4", "udp", 53, 53, None, None))
    )
    out["rule_added_ms"] = await timed(fw.refresh([more]))
    out["rule_removed_ms"] = await timed(fw.refresh([group]))
    return out
