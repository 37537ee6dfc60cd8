"""Security groups on the ports of one host, in nftables inside the dataplane namespace.

Called by the linuxbridge driver before layer 2: `apply` with the whole desired state on a
full pass, `apply_ports` for the ports that changed together on the fast path, `refresh` when
only security groups changed (rules or members); the first call prepares the namespace. Each
call renders the tables (`fwtable`) and applies the difference from what it applied last in one
`nft -f` transaction (the whole tables the first time, or when the kernel no longer holds what
was applied); the call returns once the rules are in, so a port reported up is filtered. When
a port's policy narrows (a rule gone, a remote group member gone), the conntrack entries of the
flows it no longer allows are deleted, and only those."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from collections.abc import Iterable

from overcast.common import log
from overcast.network.drivers import (
    Batch,
    DriverError,
    HostState,
    Network,
    Port,
    Rule,
    SecurityGroup,
)
from overcast.network.drivers.linuxbridge import conntrack, fwtable, names, nsexec, sgrules

LOG = log.get(__name__)
# br_netfilter hands bridged IP to the inet hooks (conntrack); loose TCP pick-up would let a
# mid-stream packet of a cut flow start a new "established" one.
SYSCTLS = {
    "net.bridge.bridge-nf-call-iptables": "1",
    "net.bridge.bridge-nf-call-ip6tables": "1",
    "net.netfilter.nf_conntrack_tcp_loose": "0",
}
# What a port always may do (DHCP, DHCPv6, ICMPv6 neighbour discovery): never cut.
_ALWAYS_UDP = {67, 68, 546, 547}

Grant = tuple[Rule, frozenset[str]]


class Firewall:
    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._started = False
        self.ports: dict[str, Port] = {}
        self.groups: dict[str, SecurityGroup] = {}
        self.applied: fwtable.Tables | None = None
        self._zones: dict[str, int] = {}
        # As last applied: what each group allows, which groups each stateful port has.
        self._granted: dict[str, frozenset[Grant]] = {}
        self._port_groups: dict[str, frozenset[str]] = {}
        self._lock = asyncio.Lock()

    async def _start(self) -> None:
        """Set the namespace up for filtering and learn the conntrack zones a previous run
        gave (so that restarting keeps flows in their zones)."""
        if self._started:
            return
        args = [f"{k}={v}" for k, v in SYSCTLS.items()]
        await nsexec.run(self.namespace, ["sysctl", "-q", "-w", *args])
        text = await nsexec.run(
            self.namespace, ["nft", "-j", "list", "map", "inet", "overcast", "zones"], check=False
        )
        self._zones = _zones_of(text)
        self._started = True

    async def apply(self, desired: HostState) -> None:
        """Filter exactly the host's ports with their groups (and their rules' remote
        groups); ports not given lose their chains."""
        async with self._lock:
            self.ports = {p.id: p for p in desired.ports}
            self.groups = {g.id: g for g in desired.security_groups}
            await self._sync()

    async def bind_port(
        self, port: Port, network: Network, groups: tuple[SecurityGroup, ...]
    ) -> None:
        """Filter one port (added or changed); the groups given replace those known."""
        await self.apply_ports(Batch(ports=((port, network),), security_groups=groups))

    async def apply_ports(self, batch: Batch) -> None:
        """Ports changed together, in one transaction: the gone ones stop being filtered, the
        others are filtered with the batch's groups (which replace those known)."""
        async with self._lock:
            known = len(self.ports)
            self.ports = {k: v for k, v in self.ports.items() if k not in batch.gone}
            if batch.ports or len(self.ports) != known:
                self.ports.update((p.id, p) for p, _ in batch.ports)
                self.groups.update((g.id, g) for g in batch.security_groups)
                await self._sync()

    async def refresh(self, groups: Iterable[SecurityGroup]) -> None:
        """Groups changed (rules or members); the ports stay as they are."""
        async with self._lock:
            self.groups.update((g.id, g) for g in groups)
            await self._sync()

    async def _sync(self) -> None:
        started = time.monotonic()
        await self._start()
        new = fwtable.build(self.ports.values(), self.groups.values(), self._zones)
        old = self.applied
        whole = fwtable.full(new)
        text = whole if old is None else fwtable.changes(old, new)
        if text.count("\n") > whole.count("\n") // 2:  # nft loads big changes faster whole
            text = whole
        if text:
            try:
                await nsexec.run(self.namespace, ["nft", "-f", "-"], stdin=text)
            except DriverError as exc:
                if old is None:
                    raise
                LOG.warning("firewall changes failed (%s); replacing the tables whole", exc)
                self.applied, self._started = None, False
                await self._start()  # the namespace may be a new one
                await nsexec.run(self.namespace, ["nft", "-f", "-"], stdin=whole)
        self.applied = new
        self._zones = {**self._zones, **new.zones}
        narrowed = self._narrowed()
        if narrowed:
            await self._cut(narrowed, new)
        LOG.debug(
            "firewall applied",
            extra={"fields": {"ms": round((time.monotonic() - started) * 1000, 1),
                              "lines": text.count("\n"), "cut": len(narrowed)}},
        )  # fmt: skip

    def _narrowed(self) -> list[str]:
        """The stateful ports allowed less than at the last call: a group left, or a rule or
        a remote group member gone from one of their groups. Remembers this call's state."""
        members = {gid: frozenset(g.member_ips) for gid, g in self.groups.items()}
        grants = {
            gid: frozenset((r, members.get(r.remote_group_id or "", frozenset())) for r in g.rules)
            for gid, g in self.groups.items()
        }
        shrunk = {gid for gid, old in self._granted.items() if old - grants.get(gid, old)}
        out, mine = [], {}
        for port in self.ports.values():
            groups = frozenset(g for g in port.security_groups if g in self.groups)
            if not fwtable.filtered(port) or not any(self.groups[g].stateful for g in groups):
                continue
            mine[port.id] = groups
            before = self._port_groups.get(port.id)
            if before is not None and (before - groups or shrunk & groups):
                out.append(port.id)
        self._granted, self._port_groups = grants, mine
        return out

    async def _cut(self, port_ids: list[str], tables: fwtable.Tables) -> None:
        doomed = []
        members = {gid: frozenset(g.member_ips) for gid, g in self.groups.items()}
        for flow, zone in await conntrack.flows(self.namespace):
            for port_id in port_ids:
                port = self.ports[port_id]
                if tables.zones.get(names.bridge(port.network_id)) != zone:
                    continue
                if not self._allowed(port, flow, members):
                    doomed.append((flow, zone))
                    break
        if doomed:
            LOG.info("cutting flows no rule allows", extra={"fields": {"flows": len(doomed)}})
            await conntrack.delete(self.namespace, doomed)

    def _allowed(self, port: Port, flow: sgrules.Flow, members: dict[str, frozenset[str]]) -> bool:
        nets = [ipaddress.ip_network(a, strict=False) for _, a in port.fixed_ips]
        nets += [ipaddress.ip_network(a, strict=False) for a, _ in port.allowed_address_pairs]

        def mine(address: str) -> bool:
            return any(ipaddress.ip_address(address) in n for n in nets)

        if flow.proto == 17 and (flow.sport in _ALWAYS_UDP or flow.dport in _ALWAYS_UDP):
            return True
        rules = [r for g in port.security_groups if g in self.groups for r in self.groups[g].rules]
        for outbound in (True, False):
            if not mine(flow.src if outbound else flow.dst):
                continue
            if not any(
                sgrules.allows(r, flow, outbound, members.get(r.remote_group_id or "", frozenset()))
                for r in rules
            ):
                return False
        return True


def _zones_of(text: str) -> dict[str, int]:
    """The zones map as `nft -j list map` prints it ({} when there is none)."""
    try:
        items = json.loads(text)["nftables"]
    except (ValueError, KeyError):
        return {}
    for item in items:
        if "map" in item:
            return {k: int(v) for k, v in item["map"].get("elem", [])}
    return {}
