"""Namespace hosts for multi-node tests: each host is a network namespace of the test's own,
joined to the others by a veth pair on one test bridge (in a switch namespace of its own), so
nodes reach each other at their own addresses over real links, as separate machines would.

Nothing in the root namespace changes. What the host's loopback offers (RabbitMQ, PostgreSQL)
is reached from inside a host by a `Forward` the test runs: a listener made inside the host's
namespace on 127.0.0.1 whose connections are relayed to the root namespace's loopback. The
same relay brings a host's port out to the root namespace's loopback, for the test's clients.

Each host also names its network dataplane namespace (`Host.dataplane`, `ocdp-<tag>-<name>`).
A node's processes run under `ip netns exec`, whose mount namespace sends no mounts back, so
the namespaces a node makes (dataplane, DHCP, routers) are seen by that node only, as on a
machine of its own (`nodes.Node.run` looks inside); only their empty files in /run/netns are
seen by all, and `close` removes the dataplane's.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from overcast.common import netns

SUBNET = ipaddress.ip_network("10.231.0.0/24")  # only ever inside the test's namespaces


def _ip(*args: str, namespace: str | None = None) -> None:
    prefix = ["ip", "netns", "exec", namespace] if namespace else []
    subprocess.run([*prefix, "ip", *args], check=True, capture_output=True)


def _socket_in(namespace: str | None, make: object) -> socket.socket:
    assert callable(make)
    made = netns.call_in(namespace, make) if namespace else make()
    assert isinstance(made, socket.socket)
    return made


@dataclass
class Forward:
    """Relays TCP connections accepted on `listen` (inside namespace `source`, None for the
    root namespace) to `target` (connected from inside namespace `dest`)."""

    source: str | None
    listen: tuple[str, int]
    dest: str | None
    target: tuple[str, int]
    _server: socket.socket | None = None
    _open: list[socket.socket] = field(default_factory=list)

    def start(self) -> Forward:
        def listener() -> socket.socket:
            return socket.create_server(self.listen, reuse_port=False)

        self._server = _socket_in(self.source, listener)
        threading.Thread(target=self._accept, daemon=True, name=f"fwd-{self.listen}").start()
        return self

    def _accept(self) -> None:
        assert self._server is not None
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            try:
                upstream = _socket_in(
                    self.dest, lambda: socket.create_connection(self.target, timeout=10)
                )
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for sock in self._open:
            with contextlib.suppress(OSError):
                sock.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


@dataclass
class Host:
    name: str
    namespace: str
    address: str
    dataplane: str  # the namespace its network agent keeps bridges, taps and VXLAN in


class Fabric:
    """A switch namespace with one bridge, and hosts plugged into it."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.switch = f"tn-{self.tag}-sw"
        self.hosts: list[Host] = []
        self.forwards: list[Forward] = []
        _ip("netns", "add", self.switch)
        _ip("link", "set", "lo", "up", namespace=self.switch)
        _ip("link", "add", "br0", "type", "bridge", namespace=self.switch)
        _ip("link", "set", "br0", "up", namespace=self.switch)

    def host(self, name: str) -> Host:
        index = len(self.hosts) + 1
        namespace = f"tn-{self.tag}-{name}"
        address = str(SUBNET[index])
        outer = f"tn{self.tag}{index}"  # under 16 characters
        _ip("netns", "add", namespace)
        _ip("link", "set", "lo", "up", namespace=namespace)
        _ip("link", "add", outer, "type", "veth", "peer", "name", "eth0", namespace=self.switch)
        _ip("link", "set", "eth0", "netns", namespace, namespace=self.switch)
        _ip("link", "set", outer, "master", "br0", "up", namespace=self.switch)
        _ip("addr", "add", f"{address}/{SUBNET.prefixlen}", "dev", "eth0", namespace=namespace)
        _ip("link", "set", "eth0", "up", namespace=namespace)
        host = Host(name, namespace, address, f"ocdp-{self.tag}-{name}")
        self.hosts.append(host)
        return host

    def forward(
        self, source: str | None, port: int, dest: str | None, target: tuple[str, int]
    ) -> Forward:
        """Connections to 127.0.0.1:`port` in `source` reach `target` from `dest`."""
        made = Forward(source, ("127.0.0.1", port), dest, target).start()
        self.forwards.append(made)
        return made

    def close(self) -> None:
        for fwd in self.forwards:
            fwd.close()
        made = [n for h in self.hosts for n in (h.dataplane, h.namespace)]
        for name in made + [self.switch]:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


@contextlib.contextmanager
def fabric() -> Iterator[Fabric]:
    made = Fabric()
    try:
        yield made
    finally:
        made.close()


def usable() -> str | None:
    """Why namespace hosts cannot be made here, or None."""
    probe = f"tn-probe-{uuid.uuid4().hex[:6]}"
    done = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if done.returncode != 0:
        return f"cannot make network namespaces: {done.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None
