"""Routers and their NAT in namespaces the test makes (no cloud, no guest): a dataplane
namespace with an internal and an external bridge, a "guest" namespace behind the router and
an "outside" namespace on the external bridge. SNAT, floating IPs, port forwardings, extra
routes and removal, with the host's own sysctls and nftables left alone."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import IPRoute, netns

from overcast.common import netns as common_netns
from overcast.network import drivers
from overcast.network.drivers.linuxbridge import names, nat, nft, routers
from tests.network.dataplane import nsnet

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("nft") is None, reason="needs root and nftables"
)

INSIDE = uuid.uuid4().hex
OUTSIDE = uuid.uuid4().hex
GW_PORT, IF_PORT = uuid.uuid4().hex, uuid.uuid4().hex


def _router(**changes: object) -> drivers.Router:
    base = drivers.Router(
        id=str(uuid.uuid4()),
        admin_state_up=True,
        gateway=(OUTSIDE, "203.0.113.10/24", "203.0.113.1"),
        gateway_port=(GW_PORT, "fa:16:3e:00:00:10"),
        enable_snat=True,
        interfaces=((IF_PORT, INSIDE, "10.20.0.1/24", "fa:16:3e:00:00:01"),),
        routes=(("10.99.0.0/24", "10.20.0.7"),),
    )
    return drivers.Router(**{**base.__dict__, **changes})  # type: ignore[arg-type]


@pytest.fixture
def world() -> Iterator[dict[str, Any]]:
    """The dataplane with its two bridges, a guest at 10.20.0.5 and the outside at .250."""
    with nsnet.world(INSIDE, OUTSIDE, "10.20.0.5/24", "10.20.0.1") as made:
        yield made


NETWORKS = {
    INSIDE: drivers.Network(INSIDE, 1450, True, ()),
    OUTSIDE: drivers.Network(OUTSIDE, 1500, True, (), external=True),
}


def _apply(world: dict[str, Any], *found: drivers.Router) -> None:
    asyncio.run(routers.apply(world["dataplane"], found, NETWORKS, None, world["made"]))


def _host_state() -> tuple[str, str]:
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    return Path("/proc/sys/net/ipv4/ip_forward").read_text(), tables


def test_snat_floating_ip_and_port_forwarding(world: dict[str, Any]) -> None:
    host_before = _host_state()
    router = _router()
    _apply(world, router)
    ns = names.router_namespace(router.id)
    assert common_netns.call_in(ns, Path("/proc/sys/net/ipv4/ip_forward").read_text) == "1\n"
    assert _host_state() == host_before  # the host's forwarding and tables untouched

    # Outbound from the guest leaves as the router's gateway address.
    out = nsnet.listener(world["outside"], 7000)
    nsnet.connect(world["guest"], "203.0.113.250", 7000).close()
    assert nsnet.peer_of_next(out) == "203.0.113.10"
    # No floating IP yet: the guest is not reachable from outside.
    with pytest.raises(OSError):
        nsnet.connect(world["outside"], "203.0.113.20", 22, timeout=1)

    fip = drivers.FloatingIP("f1", "203.0.113.20", "10.20.0.5", "p1")
    forward = drivers.PortForward("203.0.113.21", 8080, "10.20.0.5", 80, "tcp")
    router = _router(id=router.id, floating_ips=(fip,), forwards=(forward,))
    _apply(world, router)
    ssh = nsnet.listener(world["guest"], 22)
    nsnet.connect(world["outside"], "203.0.113.20", 22).close()
    assert nsnet.peer_of_next(ssh) == "203.0.113.250"  # DNAT keeps the caller's address
    nsnet.connect(world["guest"], "203.0.113.250", 7000).close()
    assert nsnet.peer_of_next(out) == "203.0.113.20"  # SNAT to the floating IP
    web = nsnet.listener(world["guest"], 80)
    nsnet.connect(world["outside"], "203.0.113.21", 8080).close()
    assert nsnet.peer_of_next(web) == "203.0.113.250"
    # The guest reaches its own floating IP (hairpin through the router).
    nsnet.connect(world["guest"], "203.0.113.20", 22).close()
    assert nsnet.peer_of_next(ssh) == "10.20.0.1"

    with IPRoute(netns=ns) as inside:
        routes = {(r.get("RTA_DST"), r.get("RTA_GATEWAY")) for r in inside.get_routes(family=2)}
    assert {(None, "203.0.113.1"), ("10.99.0.0", "10.20.0.7")} <= routes
    text = asyncio.run(nft.ruleset(ns, nat.FAMILY, nat.TABLE))
    assert "dnat to 10.20.0.5" in text and "snat to 203.0.113.20" in text

    # Disassociated: the floating IP no longer reaches the guest, and leaves the gateway.
    router = _router(id=router.id, routes=())
    _apply(world, router)
    with pytest.raises(OSError):
        nsnet.connect(world["outside"], "203.0.113.20", 22, timeout=1)
    with IPRoute(netns=ns) as inside:
        addresses = {a.get("IFA_ADDRESS") for a in inside.get_addr(family=2)}
        routes = {(r.get("RTA_DST"), r.get("RTA_GATEWAY")) for r in inside.get_routes(family=2)}
    assert "203.0.113.20" not in addresses and "203.0.113.10" in addresses
    assert ("10.99.0.0", "10.20.0.7") not in routes
    for sock in (out, ssh, web):
        sock.close()


def test_no_snat_and_removal(world: dict[str, Any]) -> None:
    router = _router(enable_snat=False)
    _apply(world, router)
    out = nsnet.listener(world["outside"], 7001)
    # Without SNAT the packet leaves with the guest's own address, which the outside cannot
    # answer (it has no route to 10.20.0.0/24).
    with pytest.raises(OSError):
        nsnet.connect(world["guest"], "203.0.113.250", 7001, timeout=1)
    out.close()

    _apply(world)
    assert names.router_namespace(router.id) not in netns.listnetns()
    with IPRoute(netns=world["dataplane"]) as dp:
        present = {link.get("ifname") for link in dp.get_links()}
    assert not any(n.startswith("ocp") for n in present)  # the veth peers went with it
