"""A small dataplane for the firewall tests: a namespace standing in for `ocdp` with a bridge
per network, and guests as namespaces whose veth peer plays the tap (named as the driver names
taps). Needs root, `nft` and `conntrack`; the host's own ruleset is checked unchanged."""

from __future__ import annotations

import os
import random
import select
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from overcast.network.drivers import HostState, Network, Port, Rule, SecurityGroup
from overcast.network.drivers.linuxbridge.firewall import Firewall
from overcast.network.drivers.linuxbridge.names import bridge, tap

PROBE = str(Path(__file__).with_name("probe.py"))

if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("conntrack"):
    pytest.skip("needs root, nft and conntrack", allow_module_level=True)


def sh(*argv: str, check: bool = True) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{argv}: {done.stderr}")
    return done.stdout


def rule(direction: str = "ingress", ethertype: str = "IPv4", protocol: str | None = None,
         low: int | None = None, high: int | None = None, prefix: str | None = None,
         remote: str | None = None) -> Rule:  # fmt: skip
    return Rule(direction, ethertype, protocol, low, high, prefix, remote)


EGRESS_ALL = (rule("egress"), rule("egress", "IPv6"))


@dataclass
class Guest:
    ns: str
    port: Port
    ip4: str
    ip6: str
    servers: list[subprocess.Popen[str]] = field(default_factory=list)

    def probe(self, mode: str, *args: object) -> bool:
        out = sh("ip", "netns", "exec", self.ns, sys.executable, PROBE, mode, *map(str, args))
        return out.strip() == "ok"

    def serve(self, *specs: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, sys.executable, PROBE, "serve", *specs],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        self.servers.append(proc)
        return proc

    def heard(self, server: subprocess.Popen[str], port: int) -> bool:
        """Whether `server` (from `serve`) reports a UDP datagram on `port` within a second."""
        assert server.stdout is not None
        while select.select([server.stdout], [], [], 1.0)[0]:
            if server.stdout.readline().startswith(f"got {port} "):
                return True
        return False

    def ip(self, *args: str) -> None:
        sh("ip", "-n", self.ns, *args)

    def hold(self, address: str, port: int) -> Held:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, sys.executable, PROBE, "hold", address, str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.servers.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "connected"
        return Held(proc)


@dataclass
class Held:
    """One TCP connection kept open: `alive()` sends a line and says whether it came back."""

    proc: subprocess.Popen[str]

    def alive(self) -> bool:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("ping\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip() == "ok"


class Lab:
    def __init__(self) -> None:
        self.dp = f"ocfw{uuid.uuid4().hex[:6]}"
        self.spaces = [self.dp]
        self.guests: list[Guest] = []
        sh("ip", "netns", "add", self.dp)
        self.firewall = Firewall(self.dp)

    async def apply(self, ports: list[Port], groups: list[SecurityGroup]) -> None:
        """A full pass: exactly these ports with these groups."""
        desired = HostState(host="test", ports=tuple(ports), security_groups=tuple(groups))
        await self.firewall.apply(desired)

    async def bind(self, port: Port, groups: list[SecurityGroup]) -> None:
        """The fast path for one port."""
        network = Network(id=port.network_id, mtu=1500, admin_state_up=True, segments=())
        await self.firewall.bind_port(port, network, tuple(groups))

    def network(self) -> str:
        net = str(uuid.uuid4())
        sh("ip", "-n", self.dp, "link", "add", bridge(net), "type", "bridge")
        sh("ip", "-n", self.dp, "link", "set", bridge(net), "up")
        return net

    def guest(self, net: str, n: int, groups: tuple[str, ...] = (), **port: object) -> Guest:
        """Guest number `n` on `net` (10.77.0.n, fd77::n), its port in `groups`."""
        port_id = str(uuid.uuid4())
        mac = "fa:16:3e:" + ":".join(f"{random.randrange(256):02x}" for _ in range(3))
        ns = f"ocfwg{uuid.uuid4().hex[:6]}"
        sh("ip", "netns", "add", ns)
        self.spaces.append(ns)
        dev = tap(port_id)
        sh("ip", "-n", self.dp, "link", "add", dev, "type", "veth", "peer", "eth0", "netns", ns)
        sh("ip", "-n", self.dp, "link", "set", dev, "master", bridge(net), "up")
        ip4, ip6 = f"10.77.0.{n}", f"fd77::{n}"
        for args in (
            ("link", "set", "lo", "up"),
            ("link", "set", "eth0", "address", mac, "up"),
            ("addr", "add", f"{ip4}/24", "dev", "eth0"),
            ("addr", "add", f"{ip6}/64", "dev", "eth0", "nodad"),
        ):
            sh("ip", "-n", ns, *args)
        values: dict[str, object] = dict(
            id=port_id,
            network_id=net,
            mac_address=mac,
            fixed_ips=(("s4", ip4), ("s6", ip6)),
            admin_state_up=True,
            device_owner="compute:nova",
            device_id=str(uuid.uuid4()),
            vif_type="bridge",
            security_groups=groups,
        )
        values.update(port)
        guest = Guest(ns, Port(**values), ip4, ip6)  # type: ignore[arg-type]
        self.guests.append(guest)
        return guest

    def close(self) -> None:
        for guest in self.guests:
            for proc in guest.servers:
                proc.kill()
                proc.wait()
        for ns in self.spaces:
            sh("ip", "netns", "del", ns, check=False)


def group(*rules: Rule, members: tuple[Guest, ...] = (), gid: str = "",
          stateful: bool = True) -> SecurityGroup:  # fmt: skip
    ips = tuple(sorted(a for g in members for a in (g.ip4, g.ip6)))
    return SecurityGroup(gid or str(uuid.uuid4()), stateful, rules, ips)


@pytest.fixture(scope="session", autouse=True)
def root_ruleset_untouched() -> Iterator[None]:
    before = sh("nft", "list", "ruleset")
    yield
    assert sh("nft", "list", "ruleset") == before


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    made = Lab()
    try:
        yield made
    finally:
        made.close()
