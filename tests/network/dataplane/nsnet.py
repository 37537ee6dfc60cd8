"""Plain namespaces for the dataplane tests: a dataplane namespace with bridges, "hosts" (a
namespace with one veth onto a bridge, an address and a default route), and TCP listeners and
connections made inside a namespace. Every name starts with `oc`; nothing touches the host."""

from __future__ import annotations

import contextlib
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute, netns

from overcast.common import netns as common_netns
from overcast.network.drivers.linuxbridge import names, routers


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def namespaces() -> Iterator[list[str]]:
    """A list to which a test adds the namespaces it makes; all removed at the end."""
    made: list[str] = []
    try:
        yield made
    finally:
        for name in made:
            remove(name)


def remove(name: str) -> None:
    if name in netns.listnetns():
        netns.remove(name)


def bridge(dataplane: str, name: str) -> None:
    with IPRoute(netns=dataplane) as dp:
        dp.link("add", ifname=name, kind="bridge")
        dp.link("set", index=dp.link_lookup(ifname=name)[0], state="up")


def host(made: list[str], dataplane: str, bridge_name: str, address: str, gateway: str) -> str:
    """A namespace on `bridge_name` with `address` (a/prefix) and a default route."""
    name = unique("octh")
    netns.create(name)
    made.append(name)
    peer = unique("ocv")
    with IPRoute(netns=dataplane) as dp:
        dp.link("add", ifname=peer, kind="veth", peer={"ifname": "eth0", "net_ns_fd": name})
        index = dp.link_lookup(ifname=peer)[0]
        dp.link("set", index=index, master=dp.link_lookup(ifname=bridge_name)[0], state="up")
    with IPRoute(netns=name) as inside:
        for ifname in ("lo", "eth0"):
            inside.link("set", index=inside.link_lookup(ifname=ifname)[0], state="up")
        ip, prefix = address.split("/")
        inside.addr("add", index=inside.link_lookup(ifname="eth0")[0], address=ip,
                    prefixlen=int(prefix))  # fmt: skip
        if gateway:
            inside.route("add", dst="0.0.0.0/0", gateway=gateway)
    return name


def listener(namespace: str, port: int, address: str = "0.0.0.0") -> socket.socket:
    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(8)
        sock.settimeout(5)
        return sock

    return common_netns.call_in(namespace, make)


def connect(namespace: str, address: str, port: int, timeout: float = 3) -> socket.socket:
    """A connected TCP socket from inside `namespace` (raises OSError when unreachable)."""

    def make() -> socket.socket:
        sock = socket.create_connection((address, port), timeout=timeout)
        return sock

    return common_netns.call_in(namespace, make)


def peer_of_next(sock: socket.socket) -> str:
    """Accept one connection on `sock` and say whom it came from."""
    conn, (peer, _) = sock.accept()
    conn.close()
    return str(peer)


@contextlib.contextmanager
def world(inside: str, outside: str, guest: str, gateway: str) -> Iterator[dict[str, Any]]:
    """A dataplane namespace with the bridges of networks `inside` and `outside`, a "guest"
    host on the first (address `guest`, default route via `gateway`) and the "outside" host
    at 203.0.113.250 on the second; `made` records the routers made there, removed at the end."""
    with namespaces() as made, tempfile.TemporaryDirectory() as scratch:
        dataplane = unique("ocdt")
        netns.create(dataplane)
        made.append(dataplane)
        bridge(dataplane, names.bridge(inside))
        bridge(dataplane, names.bridge(outside))
        routers_made = routers.Made(Path(scratch) / "routers")
        try:
            yield {
                "dataplane": dataplane,
                "guest": host(made, dataplane, names.bridge(inside), guest, gateway),
                "outside": host(made, dataplane, names.bridge(outside), "203.0.113.250/24", ""),
                "made": routers_made,
            }
        finally:
            for name in routers_made.load():
                remove(name)
