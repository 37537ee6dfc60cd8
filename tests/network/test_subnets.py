"""Subnets: gateway and pools, IPv6 modes, subnet pools and address scopes, and every bad
subnet the issue lists (overlaps, a gateway outside, pools that overlap or leave the subnet),
each answered with Neutron's status and nothing changed."""

from __future__ import annotations

import ipaddress
from typing import Any

import openstack
import pytest

from tests.helpers.isolation import Tenant
from tests.helpers.server import Server
from tests.network import raw
from tests.network.conftest import cli_as, name


def test_tutorial_subnet_create(server: Server, tenant: Tenant) -> None:
    cli_as(server, tenant, "network", "create", "N")
    sub = cli_as(
        server, tenant, "subnet", "create", "--network", "N", "--subnet-range", "10.0.0.0/24", "S"
    )
    assert sub["cidr"] == "10.0.0.0/24" and sub["gateway_ip"] == "10.0.0.1"
    assert sub["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert sub["enable_dhcp"] is True and sub["ip_version"] == 4


def test_subnet_attributes(tenant: Tenant) -> None:
    conn = tenant.conn
    net = conn.network.create_network(name=name("net"))
    sub = conn.network.create_subnet(
        network_id=net.id,
        ip_version=4,
        cidr="192.168.7.0/24",
        gateway_ip="192.168.7.254",
        allocation_pools=[{"start": "192.168.7.10", "end": "192.168.7.20"}],
        dns_nameservers=["192.0.2.53", "192.0.2.54"],
        host_routes=[{"destination": "198.51.100.0/24", "nexthop": "192.168.7.1"}],
        is_dhcp_enabled=False,
    )
    assert sub.gateway_ip == "192.168.7.254" and not sub.is_dhcp_enabled
    assert sub.dns_nameservers == ["192.0.2.53", "192.0.2.54"]
    assert conn.network.get_network(net.id).subnet_ids == [sub.id]
    sub = conn.network.update_subnet(sub, gateway_ip=None, name="nogw")
    assert sub.gateway_ip is None
    none = conn.network.create_subnet(
        network_id=net.id, ip_version=4, cidr="192.168.8.0/29", gateway_ip=None
    )
    assert none.allocation_pools == [{"start": "192.168.8.1", "end": "192.168.8.6"}]


def test_ipv6_subnets(tenant: Tenant) -> None:
    conn = tenant.conn
    net = conn.network.create_network(name=name("net6"))
    slaac = conn.network.create_subnet(
        network_id=net.id,
        ip_version=6,
        cidr="2001:db8:1::/64",
        ipv6_ra_mode="slaac",
        ipv6_address_mode="slaac",
    )
    assert slaac.gateway_ip == "2001:db8:1::1"
    port = conn.network.create_port(network_id=net.id)
    (ip,) = port.fixed_ips
    exploded = ipaddress.ip_address(ip["ip_address"]).exploded
    mac = port.mac_address.split(":")
    assert exploded.startswith("2001:0db8:0001:0000:") and exploded.endswith(
        f"ff:fe{mac[3]}:{mac[4]}{mac[5]}"
    )
    stateful = conn.network.create_subnet(
        network_id=net.id, ip_version=6, cidr="2001:db8:2::/64", ipv6_address_mode="dhcpv6-stateful"
    )
    assert stateful.ipv6_address_mode == "dhcpv6-stateful"
    bad = {
        "network_id": net.id,
        "ip_version": 6,
        "cidr": "2001:db8:3::/64",
        "ipv6_ra_mode": "slaac",
        "ipv6_address_mode": "dhcpv6-stateful",
    }
    raw.assert_error(raw.call(conn, "POST", "/v2.0/subnets", json={"subnet": bad}), 400)
    raw.assert_error(
        raw.call(
            conn,
            "POST",
            "/v2.0/subnets",
            json={"subnet": {"network_id": net.id, "ip_version": 4, "cidr": "2001:db8:4::/64"}},
        ),
        400,
    )


@pytest.mark.parametrize(
    ("fields", "status", "kind"),
    [
        ({"cidr": "10.10.0.128/25"}, 400, "InvalidInput"),  # overlaps the lan fixture's /24
        ({"cidr": "10.20.0.0/24", "gateway_ip": "10.99.0.1"}, 400, "InvalidInput"),
        ({"cidr": "10.20.0.0/24", "gateway_ip": "10.20.0.255"}, 400, "InvalidInput"),
        (
            {
                "cidr": "10.20.0.0/24",
                "allocation_pools": [
                    {"start": "10.20.0.10", "end": "10.20.0.50"},
                    {"start": "10.20.0.40", "end": "10.20.0.60"},
                ],
            },
            400,
            "OverlappingAllocationPools",
        ),
        (
            {
                "cidr": "10.20.0.0/24",
                "allocation_pools": [{"start": "10.20.0.10", "end": "10.20.1.10"}],
            },
            400,
            "OutOfBoundsAllocationPool",
        ),
        (
            {
                "cidr": "10.20.0.0/24",
                "allocation_pools": [{"start": "10.20.0.50", "end": "10.20.0.10"}],
            },
            400,
            "InvalidAllocationPool",
        ),
        (
            {
                "cidr": "10.20.0.0/24",
                "gateway_ip": "10.20.0.20",
                "allocation_pools": [{"start": "10.20.0.10", "end": "10.20.0.50"}],
            },
            409,
            "GatewayConflictWithAllocationPools",
        ),
        ({"cidr": "10.20.0.1/24"}, 400, None),
        ({"cidr": "not-a-cidr"}, 400, None),
        ({"cidr": "10.20.0.0/24", "dns_nameservers": ["1.1.1.1", "1.1.1.1"]}, 400, None),
        ({"cidr": "10.20.0.0/24", "host_routes": [{"destination": "10.30.0.0/24"}]}, 400, None),
        ({"cidr": "10.20.0.0/24", "ip_version": 5}, 400, None),
    ],
)
def test_bad_subnets_change_nothing(
    lan: tuple[Any, Any], tenant: Tenant, fields: dict[str, Any], status: int, kind: str | None
) -> None:
    net, sub = lan
    body = {"network_id": net.id, "ip_version": 4, **fields}
    raw.assert_error(
        raw.call(tenant.conn, "POST", "/v2.0/subnets", json={"subnet": body}), status, kind
    )
    assert [s.id for s in tenant.conn.network.subnets(network_id=net.id)] == [sub.id]


def test_subnet_on_unknown_or_foreign_network(lan: tuple[Any, Any], tenant_factory: Any) -> None:
    net, _sub = lan
    other = tenant_factory()
    body = {"network_id": net.id, "ip_version": 4, "cidr": "10.77.0.0/24"}
    raw.assert_error(
        raw.call(other.conn, "POST", "/v2.0/subnets", json={"subnet": body}), 404, "NetworkNotFound"
    )


def test_subnet_pools_and_address_scopes(
    admin: openstack.connection.Connection, tenant: Tenant
) -> None:
    conn = tenant.conn
    scope = conn.network.create_address_scope(name=name("scope"), ip_version=4)
    pool = conn.network.create_subnet_pool(
        name=name("pool"),
        prefixes=["172.16.0.0/16"],
        default_prefix_length=24,
        minimum_prefix_length=20,
        maximum_prefix_length=28,
        address_scope_id=scope.id,
    )
    net = conn.network.create_network(name=name("net"))
    first = conn.network.create_subnet(network_id=net.id, ip_version=4, subnet_pool_id=pool.id)
    second = conn.network.create_subnet(
        network_id=net.id, ip_version=4, subnet_pool_id=pool.id, prefix_length=28
    )
    assert first.cidr == "172.16.0.0/24" and second.cidr == "172.16.1.0/28"
    assert first.subnet_pool_id == pool.id
    raw.assert_error(
        raw.call(
            conn,
            "POST",
            "/v2.0/subnets",
            json={
                "subnet": {
                    "network_id": net.id,
                    "ip_version": 4,
                    "subnetpool_id": pool.id,
                    "prefixlen": 8,
                }
            },
        ),
        400,
    )
    raw.assert_error(raw.call(conn, "DELETE", f"/v2.0/subnetpools/{pool.id}"), 409)
    raw.assert_error(raw.call(conn, "DELETE", f"/v2.0/address-scopes/{scope.id}"), 409)
    default = list(admin.network.subnet_pools(is_default=True))
    assert [p.name for p in default] == ["shared-default-subnetpool-v4"]
    mine = conn.network.create_subnet(network_id=net.id, ip_version=4, use_default_subnet_pool=True)
    assert mine.subnet_pool_id == default[0].id and mine.cidr.endswith("/26")


def test_delete_subnet_or_network_in_use(lan: tuple[Any, Any], tenant: Tenant) -> None:
    net, sub = lan
    conn = tenant.conn
    port = conn.network.create_port(network_id=net.id)
    raw.assert_error(raw.call(conn, "DELETE", f"/v2.0/subnets/{sub.id}"), 409, "SubnetInUse")
    raw.assert_error(raw.call(conn, "DELETE", f"/v2.0/networks/{net.id}"), 409, "NetworkInUse")
    assert conn.network.get_port(port.id).fixed_ips
    conn.network.delete_port(port)
    conn.network.delete_network(net)
    assert conn.network.find_subnet(sub.id) is None


def test_subnets_say_whether_their_network_is_external(
    tenant: Tenant, lan: tuple[Any, Any], public: Any
) -> None:
    """`subnet-external-network`: a read-only `router:external` on subnets, filterable; the
    subnets of an external network are visible to every project."""
    conn = tenant.conn
    _net, sub = lan
    got = raw.call(conn, "GET", f"/v2.0/subnets/{sub.id}").json()["subnet"]
    assert got["router:external"] is False
    outside = raw.call(conn, "GET", "/v2.0/subnets?router:external=true").json()["subnets"]
    assert outside and {s["network_id"] for s in outside} <= {
        n.id for n in conn.network.networks(is_router_external=True)
    }
    assert public.id in {s["network_id"] for s in outside} and sub.id not in {
        s["id"] for s in outside
    }
    assert all(s["router:external"] is True for s in outside)
    inside = raw.call(conn, "GET", "/v2.0/subnets?router:external=False").json()["subnets"]
    assert sub.id in {s["id"] for s in inside}
    raw.assert_error(raw.call(conn, "GET", "/v2.0/subnets?router:external=maybe"), 400)
    raw.assert_error(
        raw.call(
            conn,
            "POST",
            "/v2.0/subnets",
            json={
                "subnet": {
                    "network_id": _net.id,
                    "ip_version": 4,
                    "cidr": "10.20.0.0/24",
                    "router:external": True,
                }
            },
        ),
        400,
    )
    aliases = {e.alias for e in conn.network.extensions()}
    assert "subnet-external-network" in aliases
