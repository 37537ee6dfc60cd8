"""The metadata proxy against the real compute metadata API (the shared cloud, fake compute
driver), in namespaces the test makes: a guest behind a router asks 169.254.169.254 and gets
its own instance's documents, whatever identity headers it forges; an address no instance has
gets nothing; the proxy's port cannot be reached except through the redirect; and the
metadata API itself refuses an unsigned identity."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openstack
import pytest

from overcast.common.config import Settings
from overcast.network import drivers
from overcast.network.drivers.linuxbridge import metadata_proxy, names, routers
from overcast.network.drivers.linuxbridge.metadata_proxy import Spot
from tests.helpers.server import Server
from tests.network.dataplane import nsnet

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("nft") is None, reason="needs root and nftables"
)
OUTSIDE = uuid.uuid4().hex


@pytest.fixture(scope="module")
def booted(server: Server, demo: openstack.connection.Connection) -> Iterator[list[Any]]:
    """Two servers on `private` (fake compute), each with its own user data."""
    image = demo.image.create_image(name=nsnet.unique("tiny"), data=b"\0" * 4096,
                                    disk_format="raw", container_format="bare")  # fmt: skip
    made = []
    for name in ("meta-a", "meta-b"):
        data = base64.b64encode(f"#!/bin/sh\necho {name}\n".encode()).decode()
        made.append(demo.compute.create_server(
            name=name, image_id=image.id, flavor_id=demo.compute.find_flavor("m1.tiny").id,
            networks=[{"uuid": demo.network.find_network("private").id}], user_data=data,
        ))  # fmt: skip
    made = [demo.compute.wait_for_server(s, wait=120) for s in made]
    yield made
    for found in made:
        demo.compute.delete_server(found)


def _address(demo: openstack.connection.Connection, instance: Any) -> tuple[str, str]:
    (port,) = demo.network.ports(device_id=instance.id)
    return port.network_id, port.fixed_ips[0]["ip_address"]


def _get(namespace: str, path: str, headers: str = "", method: str = "GET") -> tuple[int, bytes]:
    """A request to 169.254.169.254 from inside `namespace`, as a guest's wget sends it."""
    sock = nsnet.connect(namespace, metadata_proxy.ADDRESS, 80)
    with sock:
        request = f"{method} {path} HTTP/1.1\r\nHost: {metadata_proxy.ADDRESS}\r\n{headers}\r\n"
        sock.sendall(request.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def test_guest_reads_its_own_metadata_only(
    server: Server, demo: openstack.connection.Connection, booted: list[Any]
) -> None:
    first, second = booted
    network, address = _address(demo, first)
    _, other_address = _address(demo, second)
    subnet = demo.network.find_subnet("private-subnet") or next(
        demo.network.subnets(network_id=network)
    )
    prefix = subnet.cidr.split("/")[1]
    router = drivers.Router(
        id=str(uuid.uuid4()), admin_state_up=True, gateway=None, enable_snat=False,
        interfaces=((uuid.uuid4().hex, network, f"{subnet.gateway_ip}/{prefix}",
                     "fa:16:3e:00:00:21"),),
        routes=(),
    )  # fmt: skip
    nets = {network: drivers.Network(network, 1500, True, ())}
    state = drivers.HostState(
        host="h",
        ports=tuple(
            drivers.Port(
                p.id,
                p.network_id,
                p.mac_address,
                ((p.fixed_ips[0]["subnet_id"], p.fixed_ips[0]["ip_address"]),),
                True,
                p.device_owner,
                p.device_id,
                "bridge",
            )  # fmt: skip
            for s in booted
            for p in demo.network.ports(device_id=s.id)
        ),
    )
    settings = Settings(data_dir=server.data_dir, port=server.port)
    proxy = metadata_proxy.MetadataProxy(settings)
    with nsnet.world(network, OUTSIDE, f"{address}/{prefix}", subnet.gateway_ip) as world:
        stranger = nsnet.host([], world["dataplane"], names.bridge(network),
                              f"{_spare(address, other_address, subnet.cidr)}/{prefix}",
                              subnet.gateway_ip)  # fmt: skip
        local = ((subnet.gateway_ip, network),)
        spot = Spot(names.router_namespace(router.id), "0.0.0.0", metadata_proxy.PORT, local)

        async def run() -> None:
            try:
                await routers.apply(
                    world["dataplane"], (router,), nets, metadata_proxy.PORT, world["made"]
                )
                await proxy.serve({spot}, metadata_proxy.instances(state))
                await asyncio.to_thread(_check, world, stranger, first, second, subnet.gateway_ip)
            finally:
                await proxy.stop()

        try:
            asyncio.run(run())
        finally:
            nsnet.remove(stranger)

    # The metadata API itself: an identity without the proxy's signature is refused.
    forged = httpx.get(f"{server.url}/compute/metadata/openstack/latest/meta_data.json",
                       headers={"X-Instance-ID": second.id,
                                "X-Instance-ID-Signature": "0" * 64})  # fmt: skip
    assert forged.status_code == 403


def _check(world: dict[str, Any], stranger: str, first: Any, second: Any, router_ip: str) -> None:
    guest = world["guest"]
    status, body = _get(guest, "/openstack/latest/meta_data.json")
    assert status == 200 and json.loads(body)["uuid"] == first.id
    assert _get(guest, "/openstack/latest/user_data") == (200, b"#!/bin/sh\necho meta-a\n")
    assert _get(guest, "/latest/meta-data/instance-id")[0] == 200
    # Forged identity headers are not passed on: the guest still gets only its own.
    forged = (f"X-Instance-ID: {second.id}\r\nX-Instance-ID-Signature: {'0' * 64}\r\n"
              f"X-Forwarded-For: 10.9.9.9\r\n")  # fmt: skip
    status, body = _get(guest, "/openstack/latest/meta_data.json", forged)
    assert status == 200 and json.loads(body)["uuid"] == first.id
    assert _get(guest, "/openstack/latest/meta_data.json", method="POST")[0] == 405
    # An address no instance has on this network gets no instance's data.
    assert _get(stranger, "/openstack/latest/meta_data.json")[0] == 404
    # The proxy's own port answers only what the redirect brought.
    with pytest.raises(OSError):
        nsnet.connect(guest, router_ip, metadata_proxy.PORT, timeout=1)


def _spare(*taken_and_cidr: str) -> str:
    *taken, cidr = taken_and_cidr
    for host in list(ipaddress.ip_network(cidr).hosts())[::-1]:
        if str(host) not in taken:
            return str(host)
    raise AssertionError("no spare address")
