"""Boot integration, the Nova–Neutron dance: compute creates (or takes) ports, binds them to
the chosen host, waits for `network-vif-plugged`, shows addresses by network, and on delete
removes the ports it made and unbinds the ones the user brought."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import openstack
import pytest

from tests.helpers.isolation import Tenant
from tests.helpers.server import Server


@pytest.fixture(scope="module")
def image(admin: openstack.connection.Connection) -> Any:
    return admin.image.create_image(
        name=f"tiny-{uuid.uuid4().hex[:6]}",
        data=b"\0" * 4096,
        disk_format="raw",
        container_format="bare",
        visibility="public",
        allow_duplicates=True,
    )


def _gone(conn: openstack.connection.Connection, server_id: str) -> None:
    deadline = time.monotonic() + 60
    while conn.compute.find_server(server_id, ignore_missing=True) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_cli_boot_on_private_network(
    server: Server, demo: openstack.connection.Connection, image: Any
) -> None:
    created = server.cli_json(
        "server",
        "create",
        "--image",
        image.id,
        "--flavor",
        "m1.tiny",
        "--network",
        "private",
        "--wait",
        "web",
        cloud="overcast-demo",
    )
    assert created["status"] == "ACTIVE"
    (address,) = (
        created["addresses"]["private"]
        if isinstance(created["addresses"], dict)
        else [created["addresses"].split("=")[1]]
    )
    (port,) = demo.network.ports(device_id=created["id"])
    assert port.status == "ACTIVE" and port.device_owner == "compute:nova"
    assert port.fixed_ips[0]["ip_address"] in str(address)
    listed = server.cli_json("port", "list", "--server", created["id"], cloud="overcast-demo")
    assert [p["ID"] for p in listed] == [port.id]
    by_ip = list(demo.compute.servers(ip=port.fixed_ips[0]["ip_address"]))
    assert [s.id for s in by_ip] == [created["id"]]
    server.cli("server", "delete", "--wait", created["id"], cloud="overcast-demo")
    assert not list(demo.network.ports(device_id=created["id"]))


def test_boot_without_network_gets_the_only_one(tenant: Tenant, image: Any) -> None:
    # A project of its own: other tests give demo more networks on this shared server.
    conn = tenant.conn
    net = conn.network.create_network(name="only")
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.77.0.0/24")
    vm = conn.compute.create_server(name="auto", image_id=image.id, flavor_id="1", networks="auto")
    vm = conn.compute.wait_for_server(vm, interval=0.2, wait=60)
    assert list(vm.addresses) == ["only"]
    conn.compute.delete_server(vm)
    _gone(conn, vm.id)


def test_boot_with_a_port_and_external_events(
    admin: openstack.connection.Connection, demo: openstack.connection.Connection, image: Any
) -> None:
    private = demo.network.find_network("private")
    port = demo.network.create_port(network_id=private.id, name="mine")
    vm = demo.compute.create_server(
        name="p", image_id=image.id, flavor_id="1", networks=[{"port": port.id}]
    )
    vm = demo.compute.wait_for_server(vm, interval=0.2, wait=60)
    bound = admin.network.get_port(port.id)
    assert bound.device_id == vm.id and bound.binding_host_id.startswith("compute")
    assert bound.status == "ACTIVE" and bound.binding_vif_type == "bridge"
    demo.compute.delete_server(vm)
    _gone(demo, vm.id)
    after = demo.network.get_port(port.id)
    assert after.device_id == "" and after.status == "DOWN"
    nova: str = admin.session.get_endpoint(service_type="compute", interface="public")
    body = {
        "events": [
            {"name": "network-vif-plugged", "server_uuid": str(uuid.uuid4()), "tag": port.id}
        ]
    }
    answer = httpx.post(
        nova.rstrip("/") + "/os-server-external-events",
        json=body,
        headers={"X-Auth-Token": admin.auth_token},
    )
    assert answer.status_code == 404 and answer.json()["events"][0]["code"] == 404
    denied = httpx.post(
        nova.rstrip("/") + "/os-server-external-events",
        json=body,
        headers={"X-Auth-Token": demo.auth_token},
    )
    assert denied.status_code == 403
    demo.network.delete_port(port)


def test_server_network_actions(
    server: Server, demo: openstack.connection.Connection, image: Any
) -> None:
    def cli(*args: str) -> Any:
        return server.cli(*args, cloud="overcast-demo")

    made = server.cli_json(
        "server",
        "create",
        "--image",
        image.id,
        "--flavor",
        "m1.tiny",
        "--network",
        "private",
        "--wait",
        "acts",
        cloud="overcast-demo",
    )
    sid = made["id"]
    extra = demo.network.create_network(name=f"extra-{uuid.uuid4().hex[:4]}")
    demo.network.create_subnet(network_id=extra.id, ip_version=4, cidr="10.88.0.0/24")
    cli("server", "add", "network", sid, extra.id)
    ports = {p.network_id: p for p in demo.network.ports(device_id=sid)}
    assert set(ports) == {extra.id, demo.network.find_network("private").id}
    assert ports[extra.id].status == "ACTIVE"
    shown = demo.compute.get_server(sid)
    assert set(shown.addresses) == {"private", extra.name}
    mine = demo.network.create_port(network_id=extra.id)
    cli("server", "add", "port", sid, mine.id)
    assert demo.network.get_port(mine.id).device_id == sid
    cli("server", "remove", "port", sid, mine.id)
    assert demo.network.get_port(mine.id).device_id == ""
    cli("server", "remove", "network", sid, extra.id)
    assert {p.network_id for p in demo.network.ports(device_id=sid)} == {
        demo.network.find_network("private").id
    }
    group = demo.network.create_security_group(name=f"web-{uuid.uuid4().hex[:4]}")
    cli("server", "add", "security", "group", sid, group.name)
    (port,) = demo.network.ports(device_id=sid)
    assert group.id in port.security_group_ids
    cli("server", "remove", "security", "group", sid, group.name)
    assert group.id not in demo.network.get_port(port.id).security_group_ids
    fip = demo.network.create_ip(floating_network_id=demo.network.find_network("public").id)
    cli("server", "add", "floating", "ip", sid, fip.floating_ip_address)
    assert demo.network.get_ip(fip.id).port_id == port.id
    cli("server", "remove", "floating", "ip", sid, fip.floating_ip_address)
    assert demo.network.get_ip(fip.id).port_id is None
    demo.network.delete_ip(fip)
    cli("server", "delete", "--wait", sid)
    assert not list(demo.network.ports(device_id=sid))


def test_rebuild_below_2_75_shows_basic_addresses(
    demo: openstack.connection.Connection, image: Any
) -> None:
    """Below 2.75 the rebuild answer is Nova's basic view: an address is `addr` and `version`
    only; from 2.75 it carries the MAC and type as `server show` does."""
    from tests.compute.nova_http import call

    # The network named, not "auto": other tests may give demo more networks meanwhile.
    private = demo.network.find_network("private")
    vm = demo.compute.create_server(
        name="rb", image_id=image.id, flavor_id="1", networks=[{"uuid": private.id}]
    )
    vm = demo.compute.wait_for_server(vm, interval=0.2, wait=60)
    body = {"rebuild": {"imageRef": image.id}}
    old = call(demo, "POST", f"/servers/{vm.id}/action", "2.74", body)
    assert old.status_code == 202, old.text
    [address] = old.json()["server"]["addresses"]["private"]
    assert set(address) == {"addr", "version"}
    demo.compute.wait_for_server(demo.compute.get_server(vm.id), interval=0.2, wait=60)
    new = call(demo, "POST", f"/servers/{vm.id}/action", "2.75", body)
    assert new.status_code == 202, new.text
    [address] = new.json()["server"]["addresses"]["private"]
    assert {"OS-EXT-IPS:type", "OS-EXT-IPS-MAC:mac_addr"} <= set(address)
    demo.compute.wait_for_server(demo.compute.get_server(vm.id), interval=0.2, wait=60)
    demo.compute.delete_server(vm)
    _gone(demo, vm.id)
