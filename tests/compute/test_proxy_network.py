"""Nova's security group proxy (up to 2.35), through the compute API with openstacksdk's compute
adapter (no SDK call speaks these old APIs), checked against the network service as
openstacksdk sees it: groups and ingress rules in Nova's shape, a server's groups, and the
refusals (bad ids, protocols and ports, duplicates, a group in use, another project's group,
2.36 and later)."""

from __future__ import annotations

import uuid
from typing import Any

import openstack.exceptions as osexc
import pytest

from tests.compute.conftest import boot, wait_for

V = "2.1"


def call(conn: Any, method: str, path: str, body: Any = None, version: str = V) -> Any:
    return conn.compute.request(path, method, json=body, microversion=version)


def make_group(conn: Any, name: str | None = None) -> dict[str, Any]:
    body = {"security_group": {"name": name or f"sg-{uuid.uuid4().hex[:6]}", "description": "d"}}
    response = call(conn, "POST", "/os-security-groups", body)
    assert response.status_code == 200, response.text
    return dict(response.json()["security_group"])


def rule(conn: Any, **fields: Any) -> Any:
    return call(conn, "POST", "/os-security-group-rules", {"security_group_rule": fields})


@pytest.fixture
def demo(tenant_factory: Any) -> Any:
    """A fresh project each test (security group quotas are per project)."""
    return tenant_factory().conn


def test_groups_in_novas_shape(demo: Any) -> None:
    group = make_group(demo, " spaced name ")
    assert group["name"] == " spaced name " and group["rules"] == []  # egress rules hidden
    assert demo.network.get_security_group(group["id"]).name == " spaced name "
    assert call(demo, "GET", f"/os-security-groups/{group['id']}").json()["security_group"] == group
    listed = call(demo, "GET", "/os-security-groups").json()["security_groups"]
    assert group in listed and any(g["name"] == "default" for g in listed)
    changed = call(
        demo,
        "PUT",
        f"/os-security-groups/{group['id']}",
        {"security_group": {"name": "renamed", "description": "new"}},
    ).json()["security_group"]
    assert (changed["name"], changed["description"]) == ("renamed", "new")
    assert call(demo, "DELETE", f"/os-security-groups/{group['id']}").status_code == 202
    assert demo.network.find_security_group(group["id"]) is None
    assert call(demo, "GET", f"/os-security-groups/{group['id']}").status_code == 404


def test_rules_in_novas_shape(demo: Any) -> None:
    group, peer = make_group(demo), make_group(demo)
    tcp = rule(demo, parent_group_id=group["id"], ip_protocol="tcp", from_port=22, to_port=22)
    assert tcp.status_code == 200, tcp.text
    made = tcp.json()["security_group_rule"]
    assert made["ip_range"] == {"cidr": "0.0.0.0/0"} and made["group"] == {}
    assert (made["from_port"], made["to_port"], made["ip_protocol"]) == (22, 22, "tcp")
    icmp = rule(demo, parent_group_id=group["id"], ip_protocol="icmp", from_port=-1, to_port=-1)
    assert icmp.json()["security_group_rule"]["from_port"] == -1
    cidr = rule(
        demo, parent_group_id=group["id"], ip_protocol="udp", from_port=53, to_port=53,
        cidr="10.2.3.124/24",
    ).json()["security_group_rule"]  # fmt: skip
    assert cidr["ip_range"] == {"cidr": "10.2.3.124/24"}  # as asked; stored normalised
    assert demo.network.get_security_group_rule(cidr["id"]).remote_ip_prefix == "10.2.3.0/24"
    by_group = rule(
        demo, parent_group_id=group["id"], ip_protocol="tcp", from_port=80, to_port=80,
        group_id=peer["id"],
    ).json()["security_group_rule"]  # fmt: skip
    assert by_group["group"] == {"name": peer["name"], "tenant_id": peer["tenant_id"]}
    shown = call(demo, "GET", f"/os-security-groups/{group['id']}").json()["security_group"]
    assert {r["id"] for r in shown["rules"]} == {made["id"], cidr["id"], by_group["id"]} | {
        icmp.json()["security_group_rule"]["id"]
    }
    neutron = {r.id for r in demo.network.security_group_rules(security_group_id=group["id"])}
    assert made["id"] in neutron
    assert call(demo, "DELETE", f"/os-security-group-rules/{made['id']}").status_code == 202
    assert made["id"] not in {
        r.id for r in demo.network.security_group_rules(security_group_id=group["id"])
    }
    # Deleting the peer group takes the rules that name it.
    assert call(demo, "DELETE", f"/os-security-groups/{peer['id']}").status_code == 202
    rules = call(demo, "GET", f"/os-security-groups/{group['id']}").json()["security_group"]
    assert by_group["id"] not in {r["id"] for r in rules["rules"]}


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"ip_protocol": "tcp", "from_port": 22, "to_port": 21}, 400),
        ({"ip_protocol": "tcp", "from_port": 65536, "to_port": 65536}, 400),
        ({"ip_protocol": "tcp", "from_port": "x", "to_port": 22}, 400),
        ({"ip_protocol": "999-bad", "from_port": 22, "to_port": 22}, 400),
        ({"ip_protocol": "icmp", "from_port": 256, "to_port": -1}, 400),
        ({"ip_protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "10.0.0.300/8"}, 400),
        ({"from_port": 22, "to_port": 22}, 400),
    ],
)
def test_bad_rules(demo: Any, fields: dict[str, Any], status: int) -> None:
    group = make_group(demo)
    response = rule(demo, parent_group_id=group["id"], **fields)
    assert response.status_code == status
    assert response.json()["badRequest"]["code"] == 400
    assert [r for r in demo.network.security_group_rules(security_group_id=group["id"])
            if r.direction == "ingress"] == []  # fmt: skip


def test_refusals(demo: Any, tenant_factory: Any) -> None:
    group = make_group(demo)
    fields = {"parent_group_id": group["id"], "ip_protocol": "tcp", "from_port": 1, "to_port": 2}
    assert rule(demo, **fields).status_code == 200
    assert rule(demo, **fields).status_code == 400  # the same rule again
    assert rule(demo, **{**fields, "parent_group_id": "not-a-uuid"}).status_code == 400
    assert rule(demo, **{**fields, "parent_group_id": str(uuid.uuid4())}).status_code == 404
    assert call(demo, "DELETE", f"/os-security-group-rules/{uuid.uuid4()}").status_code == 404
    assert call(demo, "GET", f"/os-security-groups/{uuid.uuid4()}").status_code == 404
    assert call(demo, "PUT", f"/os-security-groups/{uuid.uuid4()}",
                {"security_group": {"name": "n", "description": "d"}}).status_code == 404  # fmt: skip
    assert (
        call(demo, "POST", "/os-security-groups", {"security_group": {"name": 5}}).status_code
        == 400
    )
    assert call(demo, "POST", "/os-security-groups", {"name": "x"}).status_code == 400
    default = next(
        g for g in call(demo, "GET", "/os-security-groups").json()["security_groups"]
        if g["name"] == "default"
    )  # fmt: skip
    assert call(demo, "DELETE", f"/os-security-groups/{default['id']}").status_code == 400
    other = tenant_factory().conn
    assert call(other, "GET", f"/os-security-groups/{group['id']}").status_code == 404
    assert call(other, "DELETE", f"/os-security-groups/{group['id']}").status_code == 404
    assert demo.network.get_security_group(group["id"])
    assert call(demo, "GET", "/os-security-groups", version="2.36").status_code == 404


def test_server_groups_and_group_in_use(demo: Any, cirros: Any) -> None:
    net = demo.network.create_network(name="n")
    demo.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.9.0.0/24")
    group = make_group(demo)
    server = boot(demo, cirros, networks=[{"uuid": net.id}])
    wait_for(demo, server.id, "ACTIVE")
    try:
        demo.compute.add_security_group_to_server(server, {"name": group["name"]})
        listed = call(demo, "GET", f"/servers/{server.id}/os-security-groups", version="2.80")
        assert group["id"] in {g["id"] for g in listed.json()["security_groups"]}
        assert call(demo, "DELETE", f"/os-security-groups/{group['id']}").status_code == 400
        assert demo.network.get_security_group(group["id"])
    finally:
        demo.compute.delete_server(server)


def test_floating_ips(demo: Any, cirros: Any) -> None:
    public = demo.network.find_network("public")
    if public is None:
        pytest.skip("no external network")
    net = demo.network.create_network(name="n")
    subnet = demo.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.8.0.0/24")
    router = demo.network.create_router(name="r", external_gateway_info={"network_id": public.id})
    demo.network.add_interface_to_router(router, subnet_id=subnet.id)
    servers = [boot(demo, cirros, networks=[{"uuid": net.id}]) for _ in range(2)]
    for server in servers:
        wait_for(demo, server.id, "ACTIVE")
    pools = call(demo, "GET", "/os-floating-ip-pools").json()["floating_ip_pools"]
    assert {"name": "public"} in pools
    made = call(demo, "POST", "/os-floating-ips", {"pool": None}).json()["floating_ip"]
    assert made["pool"] == "public" and made["instance_id"] is None and made["fixed_ip"] is None
    assert demo.network.get_ip(made["id"]).floating_ip_address == made["ip"]
    assert made in call(demo, "GET", "/os-floating-ips").json()["floating_ips"]

    def act(name: str, server: Any, address: str, version: str = V) -> int:
        body = {name: {"address": address}}
        response = call(demo, "POST", f"/servers/{server.id}/action", body, version)
        return int(response.status_code)

    assert act("addFloatingIp", servers[0], made["ip"]) == 202
    shown = call(demo, "GET", f"/os-floating-ips/{made['id']}").json()["floating_ip"]
    assert shown["instance_id"] == servers[0].id and shown["fixed_ip"].startswith("10.8.0.")
    second = call(demo, "POST", "/os-floating-ips", {}).json()["floating_ip"]
    assert act("addFloatingIp", servers[0], second["ip"]) == 400  # it has one already
    assert act("addFloatingIp", servers[1], made["ip"]) == 202  # moved to the other
    assert act("removeFloatingIp", servers[0], made["ip"]) == 409
    assert act("removeFloatingIp", servers[1], made["ip"]) == 202
    assert demo.network.get_ip(made["id"]).port_id is None
    assert act("addFloatingIp", servers[0], "0.0.0.0") == 404
    assert act("removeFloatingIp", servers[0], "0.0.0.0") == 404
    assert act("addFloatingIp", servers[0], "") == 400
    assert act("addFloatingIp", servers[0], made["ip"], version="2.44") == 404
    assert call(demo, "POST", "/os-floating-ips", {"pool": "nowhere"}).status_code == 404
    for fip in (made, second):
        assert call(demo, "DELETE", f"/os-floating-ips/{fip['id']}").status_code == 202
    assert call(demo, "GET", f"/os-floating-ips/{made['id']}").status_code == 404
    assert call(demo, "DELETE", f"/os-floating-ips/{made['id']}").status_code == 404
    assert call(demo, "GET", "/os-floating-ips", version="2.36").status_code == 404
    for server in servers:
        demo.compute.delete_server(server)


def test_tenant_networks(demo: Any, tenant_factory: Any) -> None:
    net = demo.network.create_network(name="tn")
    demo.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.7.0.0/24")
    bare = demo.network.create_network(name="bare")
    listed = {n["id"]: n for n in call(demo, "GET", "/os-tenant-networks").json()["networks"]}
    assert listed[net.id] == {"id": net.id, "label": "tn", "cidr": "10.7.0.0/24"}
    assert listed[bare.id]["cidr"] is None
    shown = call(demo, "GET", f"/os-tenant-networks/{net.id}").json()["network"]
    assert shown == listed[net.id]
    other = tenant_factory().conn
    assert call(other, "GET", f"/os-tenant-networks/{net.id}").status_code == 404
    assert call(demo, "GET", f"/os-tenant-networks/{uuid.uuid4()}").status_code == 404
    assert call(demo, "GET", "/os-tenant-networks", version="2.36").status_code == 404


def test_networks_password_and_boot_refusals(demo: Any, cirros: Any, tenant_factory: Any) -> None:
    net = demo.network.create_network(name="pn")
    demo.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.6.0.0/24")
    listed = call(demo, "GET", "/os-networks").json()["networks"]
    assert {"id": net.id, "label": "pn", "cidr": "10.6.0.0/24"} in listed
    assert call(demo, "GET", f"/os-networks/{net.id}").json()["network"]["label"] == "pn"
    assert call(demo, "GET", "/os-networks", version="2.36").status_code == 404

    # A boot naming a group the project does not have is refused, and nothing is recorded.
    with pytest.raises(osexc.BadRequestException):
        boot(demo, cirros, networks=[{"uuid": net.id}], security_groups=[{"name": "nope"}])
    assert list(demo.compute.servers()) == []

    server = boot(demo, cirros, networks=[{"uuid": net.id}])
    wait_for(demo, server.id, "ACTIVE")
    shown = call(demo, "GET", f"/servers/{server.id}").json()["server"]
    assert shown["security_groups"] == [{"name": "default"}]
    demo.compute.remove_security_group_from_server(server, {"name": "default"})
    shown = call(demo, "GET", f"/servers/{server.id}").json()["server"]
    assert "security_groups" not in shown  # none left: Nova leaves the key out
    password = call(demo, "GET", f"/servers/{server.id}/os-server-password")
    assert password.json() == {"password": ""}
    assert call(demo, "DELETE", f"/servers/{server.id}/os-server-password").status_code == 204
    other = tenant_factory().conn
    assert call(other, "GET", f"/servers/{server.id}/os-server-password").status_code == 404
    demo.compute.delete_server(server)
