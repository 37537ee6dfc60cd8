"""Routers on this host, as Neutron's L3 agent keeps them: a namespace `ocr-<router>` per
router, a veth into the bridge of each attached network carrying the subnet's gateway address
(`ocq…`), a gateway interface on the external network's bridge (`ocg…`) with the router's
external address and its floating IPs (so they answer ARP there), the default route via the
external subnet's gateway and the router's extra routes, IPv4 forwarding on inside the
namespace only, and its NAT table (`nat`). Called by the Driver's `apply`."""

from __future__ import annotations

import functools
import ipaddress
import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyroute2 import NetlinkError

from overcast.common import files
from overcast.network.drivers import DriverError, Network, Router
from overcast.network.drivers.linuxbridge import names, nat, netns

RTPROT_STATIC = 4  # the routes Overcast adds (connected routes are the kernel's)


@dataclass(frozen=True)
class Leg:
    """One interface of a router: its name inside, its veth peer and bridge in the dataplane."""

    name: str
    peer: str
    bridge: str
    mac: str
    mtu: int
    addresses: tuple[str, ...]  # address/prefix


def legs(router: Router, networks: dict[str, Network]) -> list[Leg]:
    """What the router's interfaces should be, gateway first."""
    # (kind, port id, network id, mac, addresses)
    found: list[tuple[str, str, str, str, list[str]]] = []
    if router.gateway is not None and router.gateway_port is not None:
        net_id, address, _ = router.gateway
        fips = {f.floating_ip_address for f in router.floating_ips if f.fixed_ip_address}
        fips |= {f.floating_ip_address for f in router.forwards}
        extra = [f"{ip}/32" for ip in sorted(fips)]
        port_id, mac = router.gateway_port
        found.append((names.ROUTER_GW, port_id, net_id, mac, [address, *extra]))
    by_port: dict[str, tuple[str, str, str, str, list[str]]] = {}
    for port_id, net_id, address, mac in router.interfaces:
        by_port.setdefault(port_id, (names.ROUTER_IF, port_id, net_id, mac, []))[4].append(address)
    found.extend(by_port[p] for p in sorted(by_port))
    return [
        Leg(
            kind + port_id[:11],
            names.router_peer(port_id),
            names.bridge(net_id),
            mac,
            _mtu(networks, net_id),
            tuple(addresses),
        )  # fmt: skip
        for kind, port_id, net_id, mac, addresses in found
    ]


def _mtu(networks: dict[str, Network], network_id: str) -> int:
    net = networks.get(network_id)
    return net.mtu if net is not None else 1500


class Made:
    """The router namespaces this dataplane made, kept in a file. Namespaces are host-wide:
    another cloud (or another namespace-"host") on the same machine has its own, which are not
    ours to remove. A name is recorded before its namespace is made, and forgotten after."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> set[str]:
        try:
            return set(self.path.read_text().split())
        except FileNotFoundError:
            return set()

    def save(self, found: set[str]) -> None:
        if found != self.load():
            files.atomic_write(self.path, "".join(f"{n}\n" for n in sorted(found)).encode())


async def wire(dataplane: str, router: Router, networks: dict[str, Network]) -> list[Leg]:
    """Make the router's namespace, interfaces, addresses and routes match."""
    name = names.router_namespace(router.id)
    await netns.ensure(name)
    await netns.run_in(name, _forwarding)
    wanted = legs(router, networks)
    try:
        async with netns.ipr(name) as inside, netns.ipr(dataplane) as dp:
            keep = {leg.name for leg in wanted}
            for ifname in await netns.links(inside):
                if ifname[:3] in (names.ROUTER_IF, names.ROUTER_GW) and ifname not in keep:
                    await netns.delete_link(inside, ifname)
            for leg in wanted:
                await _plug(dp, inside, name, leg)
            await _routes(inside, _wanted_routes(router))
    except NetlinkError as exc:
        raise DriverError(f"router {router.id}: {exc}") from exc
    return wanted


def _forwarding() -> None:
    """IPv4 forwarding on; run inside the router's namespace, so this is its own sysctl."""
    with open("/proc/sys/net/ipv4/ip_forward", "w") as handle:
        handle.write("1")


async def _plug(dp: Any, inside: Any, name: str, leg: Leg) -> None:
    bridge = await dp.link_lookup(ifname=leg.bridge)
    if not bridge:
        raise DriverError(f"bridge {leg.bridge} of router {name} is not there yet")
    if not await inside.link_lookup(ifname=leg.name):
        await netns.delete_link(dp, leg.peer)
        await netns.veth(dp, leg.peer, name, leg.name)
    await dp.link("set", ifname=leg.peer, master=bridge[0], mtu=leg.mtu, state="up")
    index = (await inside.link_lookup(ifname=leg.name))[0]
    await inside.link("set", index=index, address=leg.mac, mtu=leg.mtu, state="up")
    have = set()
    for addr in await inside.addr("dump", index=index):
        ip = str(addr.get("IFA_ADDRESS", ""))
        if not ip.startswith("fe80:"):
            have.add(f"{ip}/{addr['prefixlen']}")
    want = {str(ipaddress.ip_interface(a)) for a in leg.addresses}
    for address in have - want:
        ip, prefix = address.split("/")
        await inside.addr("del", index=index, address=ip, prefixlen=int(prefix))
    added = sorted(want - have)
    for address in added:
        ip, prefix = address.split("/")
        await inside.addr("add", index=index, address=ip, prefixlen=int(prefix))
    v4 = [a.split("/")[0] for a in added if ipaddress.ip_interface(a).version == 4]
    if v4 and leg.name.startswith(names.ROUTER_GW):
        # Gratuitous ARP, as Neutron's arping: neighbours that cached the address as
        # unreachable (or at another router) learn it now, not after their entry expires.
        await netns.run_in(name, functools.partial(_announce, leg.name, leg.mac, v4))


def _announce(ifname: str, mac: str, addresses: list[str]) -> None:
    """Send one gratuitous ARP request per address out of `ifname` (run inside its namespace)."""
    hw = bytes.fromhex(mac.replace(":", ""))
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind((ifname, 0))
        for address in addresses:
            ip = socket.inet_aton(address)
            arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + hw + ip + b"\0" * 6 + ip
            sock.send(b"\xff" * 6 + hw + struct.pack("!H", 0x0806) + arp)


def _wanted_routes(router: Router) -> set[tuple[str, str]]:
    """(destination, next hop) of the default route and the extra routes."""
    found = set(router.routes)
    if router.gateway is not None and router.gateway[2]:
        default = "0.0.0.0/0" if ":" not in router.gateway[2] else "::/0"
        found.add((default, router.gateway[2]))
    return {(str(ipaddress.ip_network(d, strict=False)), h) for d, h in found}


async def _routes(inside: Any, wanted: set[tuple[str, str]]) -> None:
    """Overcast's routes (protocol `static`) made exactly `wanted`; connected ones stay."""
    have = set()
    for family, default in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        for route in await inside.route("dump", family=family, table=254):
            if route["proto"] == RTPROT_STATIC:
                dst = f"{route.get('RTA_DST') or default}/{route['dst_len']}"
                have.add((str(ipaddress.ip_network(dst)), str(route.get("RTA_GATEWAY"))))
    for dst, gateway in have - wanted:
        await inside.route("del", dst=dst, gateway=gateway, proto=RTPROT_STATIC)
    for dst, gateway in sorted(wanted - have):
        await inside.route("replace", dst=dst, gateway=gateway, proto=RTPROT_STATIC)


async def apply(
    dataplane: str,
    routers: tuple[Router, ...],
    networks: dict[str, Network],
    metadata_port: int | None,
    made: Made,
) -> None:
    """Every admin-up router of `routers` wired with its NAT; every other router namespace
    this dataplane made removed (its veth ends go with it, and their peers on the bridges).
    A router whose bridges are not there yet raises `DriverError`, after the others."""
    wanted = {names.router_namespace(r.id): r for r in routers if r.admin_state_up}
    known = made.load()
    for name in sorted(known - set(wanted)):
        await netns.delete(name)
    made.save(set(wanted))
    failed: list[str] = []
    for name, router in sorted(wanted.items()):
        try:
            built = await wire(dataplane, router, networks)
            gateway = built[0].name if built and built[0].name.startswith(names.ROUTER_GW) else None
            await nat.apply(name, router, gateway, metadata_port)
        except DriverError as exc:
            failed.append(str(exc))
    if failed:
        raise DriverError("; ".join(failed))
