"""The metadata proxy (Neutron's metadata agent and its namespace proxies, in one): an asyncio
server per router namespace (port `PORT`, where the router's NAT redirects 169.254.169.254:80)
and per isolated network's DHCP namespace (169.254.169.254:80 itself), whose listening socket
is made inside that namespace, in the network agent's own process. A request is tied to an
instance by the network it came from and its source address, never by anything the guest
sends, and goes on to compute's metadata API with that instance id signed by the shared
secret (`common.instance_identity`). Driven by the L3 part (`l3`) on every pass."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from overcast.clients import base
from overcast.common import instance_identity, log
from overcast.common import netns as common_netns
from overcast.common.config import Settings
from overcast.common.listener import tcp_listener
from overcast.network.drivers import HostState, Port

LOG = log.get(__name__)
ADDRESS = "169.254.169.254"
PORT = 9697  # inside a router namespace, as Neutron's
_HEAD_LIMIT = 16384
_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 502: "Bad Gateway"}  # fmt: skip


@dataclass(frozen=True)
class Spot:
    """Where a listener should be: namespace, address and port, and the network of each local
    address a request can arrive on ("" stands for any)."""

    namespace: str
    address: str
    port: int
    networks: tuple[tuple[str, str], ...]  # (local address, network id)


# (network id, fixed address) -> (instance id, port id)
Directory = dict[tuple[str, str], tuple[str, str]]


def entries(port: Port) -> Directory:
    """What an instance's port adds to the directory (nothing for other ports)."""
    if not (port.device_owner.startswith("compute:") and port.device_id):
        return {}
    return {(port.network_id, ip): (port.device_id, port.id) for _, ip in port.fixed_ips}


def instances(desired: HostState) -> Directory:
    """The directory of every instance port of the host and of the networks it serves DHCP
    for (a network node's routers and DHCP namespaces serve guests of other hosts)."""
    found: Directory = {}
    for port in (*desired.ports, *desired.dhcp_clients):
        found.update(entries(port))
    return found


def isolated_networks(desired: HostState) -> set[str]:
    """Networks this host serves DHCP for with a DHCP-enabled IPv4 subnet and no router
    interface: their DHCP namespace serves metadata, and DHCP gives guests a host route to
    169.254.169.254 via the DHCP port."""
    routed = {net_id for r in desired.routers for _, net_id, _, _ in r.interfaces}
    served = {p.network_id for p in desired.dhcp_clients}
    return {
        n.id
        for n in desired.networks
        if n.id in served
        and n.id not in routed
        and any(s.enable_dhcp and s.ip_version == 4 for s in n.subnets)
    }


class MetadataProxy:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.network.metadata_url or settings.base_url + "/compute/metadata"
        self.directory: Directory = {}
        self.servers: dict[Spot, asyncio.AbstractServer] = {}

    def spots(self) -> set[Spot]:
        return set(self.servers)

    async def retain(self, wanted: set[Spot]) -> None:
        """Close every listener not in `wanted` (before its namespace goes: an open socket
        would keep a removed namespace, and its interfaces, alive)."""
        for spot in [s for s in self.servers if s not in wanted]:
            server = self.servers.pop(spot)
            server.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()

    def learn(self, port: Port) -> None:
        """One port's addresses now (a guest asks at boot, maybe before the next pass)."""
        self.forget(port.id)
        self.directory.update(entries(port))

    def forget(self, port_id: str) -> None:
        self.directory = {k: v for k, v in self.directory.items() if v[1] != port_id}

    async def serve(self, wanted: set[Spot], directory: Directory) -> None:
        """Listen at every spot of `wanted` not yet served (their namespaces exist)."""
        self.directory = directory
        await self.retain(wanted)
        for spot in sorted(wanted - set(self.servers), key=lambda s: s.namespace):
            try:
                sock = await common_netns.run_in(
                    spot.namespace, _listening(spot.address, spot.port)
                )
            except OSError as exc:
                LOG.warning("metadata proxy cannot listen in %s: %s", spot.namespace, exc)
                continue
            handler = functools.partial(self._handle, networks=dict(spot.networks))
            self.servers[spot] = await asyncio.start_server(handler, sock=sock)

    async def stop(self) -> None:
        await self.retain(set())

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, networks: dict[str, str]
    ) -> None:
        try:
            status, body, kind = await self._answer(reader, writer, networks)
            reason = _REASONS.get(status, "")
            head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")  # fmt: skip
            writer.write(head.encode() + body)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            writer.close()

    async def _answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, networks: dict[str, str]
    ) -> tuple[int, bytes, str]:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        if len(head) > _HEAD_LIMIT:
            return 400, b"request too large", "text/plain"
        parts = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        if len(parts) != 3 or not parts[1].startswith("/") or "\\" in parts[1]:
            return 400, b"bad request", "text/plain"
        method, target = parts[0], parts[1]
        if method not in ("GET", "HEAD"):
            return 405, b"only GET and HEAD", "text/plain"
        peer = str(writer.get_extra_info("peername")[0])
        local = str(writer.get_extra_info("sockname")[0])
        network = networks.get(local) or networks.get("")
        found = self.directory.get((network or "", peer))
        if found is None:
            LOG.info("metadata request from unknown %s on network %s", peer, network)
            return 404, b"no instance with this address on this network", "text/plain"
        instance = found[0]
        headers = {
            instance_identity.HEADER_ID: instance,
            instance_identity.HEADER_SIGNATURE: instance_identity.sign(
                instance_identity.shared_secret(self.settings), instance
            ),
            "X-Forwarded-For": peer,
        }
        try:
            response = await base.pool().request(method, self.url + target, headers=headers)
        except httpx.HTTPError as exc:
            LOG.warning("metadata API unreachable: %s", exc)
            return 502, b"metadata service unreachable", "text/plain"
        kind = response.headers.get("content-type", "text/plain")
        return response.status_code, response.content, kind


def _listening(address: str, port: int) -> Callable[[], socket.socket]:
    def make() -> socket.socket:
        sock = tcp_listener(address, port, backlog=64)
        sock.setblocking(False)
        return sock

    return make
