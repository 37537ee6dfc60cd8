"""Routers and floating IPs as the networking tutorials use them, with the bad inputs the
issue lists: overlapping CIDRs behind one router, an interface on a subnet already attached,
a floating IP for a port with no router path, deleting what is in use; port forwardings."""

from __future__ import annotations

from typing import Any

import openstack

from tests.helpers.isolation import Tenant
from tests.helpers.server import Server
from tests.network import raw
from tests.network.conftest import cli_as, name


def test_tutorial_router_and_floating_ip(
    server: Server, tenant: Tenant, lan: tuple[Any, Any], public: Any
) -> None:
    net, sub = lan
    cli_as(server, tenant, "router", "create", "R")
    auth = [
        "--os-username",
        tenant.user_name,
        "--os-password",
        tenant.password,
        "--os-project-name",
        tenant.project_name,
        "--os-user-domain-name",
        "Default",
        "--os-project-domain-name",
        "Default",
    ]
    server.cli(*auth, "router", "set", "--external-gateway", "public", "R")
    server.cli(*auth, "router", "add", "subnet", "R", sub.name)
    router = cli_as(server, tenant, "router", "show", "R")
    assert router["external_gateway_info"]["network_id"] == public.id
    assert router["external_gateway_info"]["enable_snat"] is True
    assert router["interfaces_info"][0]["ip_address"] == "10.10.0.1"
    fip = cli_as(server, tenant, "floating", "ip", "create", "public")
    assert fip["floating_ip_address"].startswith("203.0.113.") and fip["status"] == "DOWN"
    port = tenant.conn.network.create_port(network_id=net.id)
    server.cli(*auth, "floating", "ip", "set", "--port", port.id, fip["floating_ip_address"])
    now = tenant.conn.network.get_ip(fip["id"])
    assert (now.port_id, now.fixed_ip_address, now.status) == (
        port.id,
        port.fixed_ips[0]["ip_address"],
        "ACTIVE",
    )
    assert now.router_id == router["id"]
    raw.assert_error(raw.call(tenant.conn, "DELETE", f"/v2.0/subnets/{sub.id}"), 409)
    raw.assert_error(
        raw.call(
            tenant.conn,
            "PUT",
            f"/v2.0/routers/{router['id']}/remove_router_interface",
            json={"subnet_id": sub.id},
        ),
        409,
        "RouterInterfaceInUseByFloatingIP",
    )
    raw.assert_error(
        raw.call(
            tenant.conn,
            "PUT",
            f"/v2.0/routers/{router['id']}",
            json={"router": {"external_gateway_info": {}}},
        ),
        409,
        "RouterExternalGatewayInUseByFloatingIp",
    )
    raw.assert_error(
        raw.call(tenant.conn, "DELETE", f"/v2.0/routers/{router['id']}"), 409, "RouterInUse"
    )
    tenant.conn.network.update_ip(now, port_id=None)
    tenant.conn.network.remove_interface_from_router(router["id"], subnet_id=sub.id)
    tenant.conn.network.delete_router(router["id"])


def test_router_bad_inputs(tenant: Tenant, lan: tuple[Any, Any], public: Any) -> None:
    conn = tenant.conn
    net, sub = lan
    router = conn.network.create_router(
        name=name("r"), external_gateway_info={"network_id": public.id}
    )
    conn.network.add_interface_to_router(router, subnet_id=sub.id)
    path = f"/v2.0/routers/{router.id}/add_router_interface"
    raw.assert_error(raw.call(conn, "PUT", path, json={"subnet_id": sub.id}), 400)
    other = conn.network.create_network(name=name("net"))
    overlapping = conn.network.create_subnet(network_id=other.id, ip_version=4, cidr="10.10.0.0/16")
    raw.assert_error(raw.call(conn, "PUT", path, json={"subnet_id": overlapping.id}), 400)
    nogw = conn.network.create_subnet(
        network_id=other.id, ip_version=4, cidr="10.11.0.0/24", gateway_ip=None
    )
    raw.assert_error(raw.call(conn, "PUT", path, json={"subnet_id": nogw.id}), 400)
    raw.assert_error(raw.call(conn, "PUT", path, json={}), 400)
    used = conn.network.create_port(network_id=net.id, device_id="somebody")
    raw.assert_error(raw.call(conn, "PUT", path, json={"port_id": used.id}), 409, "PortInUse")
    raw.assert_error(
        raw.call(
            conn,
            "PUT",
            f"/v2.0/routers/{router.id}",
            json={"router": {"external_gateway_info": {"network_id": net.id}}},
        ),
        400,
    )
    raw.assert_error(
        raw.call(
            conn,
            "PUT",
            f"/v2.0/routers/{router.id}",
            json={"router": {"routes": [{"destination": "192.0.2.0/24", "nexthop": "10.99.0.9"}]}},
        ),
        400,
        "InvalidRoutes",
    )
    routed = conn.network.update_router(
        router, routes=[{"destination": "192.0.2.0/24", "nexthop": "10.10.0.9"}]
    )
    assert routed.routes == [{"destination": "192.0.2.0/24", "nexthop": "10.10.0.9"}]
    ext_fixed = {
        "router": {
            "name": "x",
            "external_gateway_info": {
                "network_id": public.id,
                "external_fixed_ips": [{"ip_address": "203.0.113.250"}],
            },
        }
    }
    raw.assert_error(raw.call(conn, "POST", "/v2.0/routers", json=ext_fixed), 403)
    interface_port = next(p for p in conn.network.ports(device_id=router.id))
    raw.assert_error(
        raw.call(conn, "DELETE", f"/v2.0/ports/{interface_port.id}"), 409, "L3PortInUse"
    )
    by_port = conn.network.create_port(network_id=other.id, fixed_ips=[{"subnet_id": nogw.id}])
    info = conn.network.add_interface_to_router(router, port_id=by_port.id)
    assert info["port_id"] == by_port.id and info["subnet_ids"] == [nogw.id]


def test_floating_ip_needs_a_router_path(tenant: Tenant, lan: tuple[Any, Any], public: Any) -> None:
    conn = tenant.conn
    net, _sub = lan
    port = conn.network.create_port(network_id=net.id)
    answer = raw.call(
        conn,
        "POST",
        "/v2.0/floatingips",
        json={"floatingip": {"floating_network_id": public.id, "port_id": port.id}},
    )
    raw.assert_error(answer, 404, "ExternalGatewayForFloatingIPNotFound")
    assert not list(conn.network.ips(port_id=port.id))
    raw.assert_error(
        raw.call(
            conn, "POST", "/v2.0/floatingips", json={"floatingip": {"floating_network_id": net.id}}
        ),
        400,
    )
    raw.assert_error(
        raw.call(
            conn,
            "POST",
            "/v2.0/floatingips",
            json={
                "floatingip": {
                    "floating_network_id": public.id,
                    "floating_ip_address": "203.0.113.77",
                }
            },
        ),
        403,
    )


def test_port_forwardings(tenant: Tenant, lan: tuple[Any, Any], public: Any) -> None:
    conn = tenant.conn
    net, sub = lan
    router = conn.network.create_router(
        name=name("r"), external_gateway_info={"network_id": public.id}
    )
    conn.network.add_interface_to_router(router, subnet_id=sub.id)
    port = conn.network.create_port(network_id=net.id)
    inside = port.fixed_ips[0]["ip_address"]
    fip = conn.network.create_ip(floating_network_id=public.id)
    pf = conn.network.create_port_forwarding(
        floatingip_id=fip.id,
        internal_port_id=port.id,
        internal_ip_address=inside,
        internal_port=22,
        external_port=2222,
        protocol="tcp",
    )
    assert (pf.internal_port, pf.external_port, pf.protocol) == (22, 2222, "tcp")
    again = {
        "port_forwarding": {
            "internal_port_id": port.id,
            "internal_ip_address": inside,
            "internal_port": 23,
            "external_port": 2222,
            "protocol": "tcp",
        }
    }
    raw.assert_error(
        raw.call(conn, "POST", f"/v2.0/floatingips/{fip.id}/port_forwardings", json=again), 400
    )
    raw.assert_error(
        raw.call(
            conn, "PUT", f"/v2.0/floatingips/{fip.id}", json={"floatingip": {"port_id": port.id}}
        ),
        409,
    )
    assert [p.id for p in conn.network.port_forwardings(fip)] == [pf.id]
    assert conn.network.get_ip(fip.id).router_id == router.id
    conn.network.delete_port_forwarding(pf, fip)
    assert not list(conn.network.port_forwardings(fip))


def test_bootstrap_topology(
    admin: openstack.connection.Connection, demo: openstack.connection.Connection, public: Any
) -> None:
    assert admin.network.get_network(public.id).provider_network_type == "flat"
    (pub_sub,) = admin.network.subnets(network_id=public.id)
    assert pub_sub.cidr == "203.0.113.0/24" and not pub_sub.is_dhcp_enabled
    private = demo.network.find_network("private")
    router = demo.network.find_router("router1")
    assert private is not None and router is not None
    assert router.external_gateway_info["network_id"] == public.id
    assert [p.device_owner for p in demo.network.ports(device_id=router.id)] == [
        "network:router_interface"
    ]


def test_router_tags_replaced_and_cleared(tenant: Tenant) -> None:
    """`PUT` and `DELETE /routers/<id>/tags` reach the tags, not the router's interface actions."""
    conn = tenant.conn
    router = conn.network.create_router(name=name("r"), tags=["old"])
    conn.network.set_tags(router, ["x", "y", "z"])
    assert sorted(conn.network.get_router(router.id).tags) == ["x", "y", "z"]
    router.remove_all_tags(conn.network)
    assert conn.network.get_router(router.id).tags == []
    raw.assert_error(
        raw.call(conn, "PUT", f"/v2.0/routers/{router.id}/tags", json={"tags": "x"}), 400
    )
    raw.assert_error(
        raw.call(conn, "PUT", f"/v2.0/routers/{router.id}/no_such_action", json={}), 404
    )


def test_external_network_goes_with_its_free_floating_ips(
    admin: openstack.connection.Connection,
) -> None:
    """Deleting an external network deletes the floating IPs no port holds, as Neutron does;
    when something else keeps the network in use, the 409 leaves them all in place."""
    net = admin.network.create_network(name=name("ext"), is_router_external=True)
    sub = admin.network.create_subnet(
        network_id=net.id, ip_version=4, cidr="198.51.100.0/24", is_dhcp_enabled=False
    )
    fips = [admin.network.create_ip(floating_network_id=net.id) for _ in range(2)]
    assert {f.id for f in admin.network.ips(floating_network_id=net.id)} == {f.id for f in fips}
    holder = admin.network.create_port(network_id=net.id, device_id="somebody")
    raw.assert_error(raw.call(admin, "DELETE", f"/v2.0/networks/{net.id}"), 409, "NetworkInUse")
    assert {f.id for f in admin.network.ips(floating_network_id=net.id)} == {f.id for f in fips}
    admin.network.delete_port(holder)
    admin.network.delete_network(net)
    assert admin.network.find_network(net.id) is None
    assert admin.network.find_subnet(sub.id) is None
    left = {f.id for f in admin.network.ips()}
    assert not left & {f.id for f in fips}
    assert not list(admin.network.ports(network_id=net.id))
