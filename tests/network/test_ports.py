"""Ports: fixed IPs (chosen, on a named subnet, anywhere), MACs, binding and status, security
groups, address pairs, DHCP options, dns_name, and the bad inputs the issue lists; IPAM that
never hands out an address twice, nor the gateway, network or broadcast address."""

from __future__ import annotations

import ipaddress
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openstack
import openstack.exceptions as osexc
import pytest

from tests.helpers.isolation import Tenant
from tests.helpers.server import Server
from tests.network import raw
from tests.network.conftest import cli_as, name


def test_tutorial_port_create(server: Server, tenant: Tenant, lan: tuple[Any, Any]) -> None:
    net, sub = lan
    port = cli_as(
        server,
        tenant,
        "port",
        "create",
        "--network",
        net.name,
        "--fixed-ip",
        f"subnet={sub.name},ip-address=10.10.0.50",
        "P",
    )
    assert port["fixed_ips"] == [{"subnet_id": sub.id, "ip_address": "10.10.0.50"}]
    assert port["status"] == "DOWN" and port["mac_address"].startswith("fa:16:3e:")
    assert len(port["security_group_ids"]) == 1  # the project's default group


def test_fixed_ip_choices(tenant: Tenant, lan: tuple[Any, Any]) -> None:
    net, sub = lan
    conn = tenant.conn
    chosen = conn.network.create_port(network_id=net.id, fixed_ips=[{"ip_address": "10.10.0.9"}])
    two = conn.network.create_port(
        network_id=net.id,
        fixed_ips=[{"subnet_id": sub.id}, {"subnet_id": sub.id, "ip_address": "10.10.0.10"}],
    )
    anywhere = conn.network.create_port(network_id=net.id)
    on_subnet = conn.network.create_port(network_id=net.id, fixed_ips=[{"subnet_id": sub.id}])
    addresses = [ip["ip_address"] for p in (anywhere, on_subnet, chosen, two) for ip in p.fixed_ips]
    assert len(addresses) == len(set(addresses)) == 5
    assert chosen.fixed_ips == [{"subnet_id": sub.id, "ip_address": "10.10.0.9"}]
    assert two.fixed_ips[1] == {"subnet_id": sub.id, "ip_address": "10.10.0.10"}
    spare = next(a for a in (f"10.10.0.{i}" for i in range(11, 255)) if a not in addresses)
    updated = conn.network.update_port(
        two,
        fixed_ips=[{"subnet_id": sub.id, "ip_address": "10.10.0.10"}, {"ip_address": spare}],
    )
    assert sorted(ip["ip_address"] for ip in updated.fixed_ips) == ["10.10.0.10", spare]
    found = list(conn.network.ports(fixed_ips=[f"ip_address={spare}"]))
    assert [p.id for p in found] == [two.id]


def test_named_address_is_not_taken_by_a_free_pick(tenant: Tenant) -> None:
    """A free pick earlier in the same request never takes an address named later in it."""
    conn = tenant.conn
    net = conn.network.create_network(name=name("net"))
    sub = conn.network.create_subnet(
        network_id=net.id,
        ip_version=4,
        cidr="10.20.0.0/29",
        allocation_pools=[{"start": "10.20.0.2", "end": "10.20.0.3"}],
    )
    port = conn.network.create_port(
        network_id=net.id,
        fixed_ips=[{"subnet_id": sub.id}, {"subnet_id": sub.id, "ip_address": "10.20.0.3"}],
    )
    assert [ip["ip_address"] for ip in port.fixed_ips] == ["10.20.0.2", "10.20.0.3"]


@pytest.mark.parametrize(
    ("fields", "status", "kind"),
    [
        ({"fixed_ips": [{"ip_address": "10.10.0.9"}]}, 409, "IpAddressAlreadyAllocated"),
        (
            {"fixed_ips": [{"ip_address": "10.10.0.1"}]},
            409,
            "IpAddressAlreadyAllocated",
        ),  # the gateway
        ({"fixed_ips": [{"ip_address": "10.10.0.0"}]}, 400, "InvalidInput"),
        ({"fixed_ips": [{"ip_address": "10.10.0.255"}]}, 400, "InvalidInput"),
        ({"fixed_ips": [{"ip_address": "10.99.0.5"}]}, 400, "InvalidInput"),
        ({"fixed_ips": [{"ip_address": "10.10.0.300"}]}, 400, None),
        (
            {"fixed_ips": [{"subnet_id": "4a4e4f3b-0000-4000-8000-000000000000"}]},
            400,
            "InvalidInput",
        ),
        ({"mac_address": "zz:16:3e:00:00:01"}, 400, None),
        ({"mac_address": "01:00:5e:00:00:01"}, 400, None),  # multicast
        ({"binding:host_id": "compute1"}, 403, "PolicyNotAuthorized"),
        (
            {"security_groups": ["4a4e4f3b-0000-4000-8000-000000000000"]},
            404,
            "SecurityGroupNotFound",
        ),
        (
            {
                "port_security_enabled": False,
                "allowed_address_pairs": [{"ip_address": "10.10.0.200"}],
            },
            409,
            "AddressPairAndPortSecurityRequired",
        ),
        ({"name": 5}, 400, None),
    ],
)
def test_bad_ports_change_nothing(
    tenant: Tenant, lan: tuple[Any, Any], fields: dict[str, Any], status: int, kind: str | None
) -> None:
    net, _sub = lan
    conn = tenant.conn
    conn.network.create_port(network_id=net.id, fixed_ips=[{"ip_address": "10.10.0.9"}])
    answer = raw.call(conn, "POST", "/v2.0/ports", json={"port": {"network_id": net.id, **fields}})
    raw.assert_error(answer, status, kind)
    assert len(list(conn.network.ports(network_id=net.id))) == 1


def test_mac_addresses(tenant: Tenant, lan: tuple[Any, Any]) -> None:
    net, _sub = lan
    conn = tenant.conn
    port = conn.network.create_port(network_id=net.id, mac_address="FA:16:3E:AA:BB:CC")
    assert port.mac_address == "fa:16:3e:aa:bb:cc"
    raw.assert_error(
        raw.call(
            conn,
            "POST",
            "/v2.0/ports",
            json={"port": {"network_id": net.id, "mac_address": "fa:16:3e:aa:bb:cc"}},
        ),
        409,
        "MacAddressInUse",
    )


def test_exhausted_pool_and_addresses_return(tenant: Tenant) -> None:
    conn = tenant.conn
    net = conn.network.create_network(name=name("tiny"))
    sub = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.5.5.0/29")
    ports = [conn.network.create_port(network_id=net.id) for _ in range(5)]
    held = {p.fixed_ips[0]["ip_address"] for p in ports}
    assert held == {f"10.5.5.{i}" for i in range(2, 7)}  # never .0, .1 (gateway) or .7
    answer = raw.call(conn, "POST", "/v2.0/ports", json={"port": {"network_id": net.id}})
    raw.assert_error(answer, 409, "IpAddressGenerationFailure")
    conn.network.delete_port(ports[0])
    again = conn.network.create_port(network_id=net.id)
    assert again.fixed_ips == ports[0].fixed_ips
    assert sub.id in {ip["subnet_id"] for ip in again.fixed_ips}


def test_addresses_of_failed_creates_and_deletes_are_handed_out_again(tenant: Tenant) -> None:
    """A create refused after IPAM took its address (address pairs without port security)
    and deletes of held addresses lose nothing: the whole pool can still be filled."""
    conn = tenant.conn
    net = conn.network.create_network(name=name("refill"))
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.5.6.0/29")
    refused = {
        "network_id": net.id,
        "port_security_enabled": False,
        "allowed_address_pairs": [{"ip_address": "10.5.6.9"}],
    }
    for _ in range(3):
        answer = raw.call(conn, "POST", "/v2.0/ports", json={"port": refused})
        raw.assert_error(answer, 409, "AddressPairAndPortSecurityRequired")
    first = [conn.network.create_port(network_id=net.id) for _ in range(3)]
    for port in first[:2]:
        conn.network.delete_port(port)
    ports = [first[2]] + [conn.network.create_port(network_id=net.id) for _ in range(4)]
    held = sorted(p.fixed_ips[0]["ip_address"] for p in ports)
    assert held == [f"10.5.6.{i}" for i in range(2, 7)]
    answer = raw.call(conn, "POST", "/v2.0/ports", json={"port": {"network_id": net.id}})
    raw.assert_error(answer, 409, "IpAddressGenerationFailure")


def test_ip_availability(
    admin: openstack.connection.Connection, tenant: Tenant, lan: tuple[Any, Any]
) -> None:
    net, sub = lan
    for _ in range(3):
        tenant.conn.network.create_port(network_id=net.id)
    found = admin.network.get_network_ip_availability(net.id)
    assert (found.total_ips, found.used_ips) == (253, 3)
    assert found.subnet_ip_availability[0]["subnet_id"] == sub.id
    with pytest.raises(osexc.ForbiddenException):
        tenant.conn.network.get_network_ip_availability(net.id)


def test_concurrent_allocations_never_collide(tenant: Tenant) -> None:
    conn = tenant.conn
    net = conn.network.create_network(name=name("busy"))
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.6.0.0/26")
    with ThreadPoolExecutor(16) as pool:
        made = list(pool.map(lambda _i: conn.network.create_port(network_id=net.id), range(60)))
    addresses = [p.fixed_ips[0]["ip_address"] for p in made]
    assert len(set(addresses)) == 60  # of the 61 in the pool
    assert all(ipaddress.ip_address(a) in ipaddress.ip_network("10.6.0.0/26") for a in addresses)
    assert {"10.6.0.0", "10.6.0.1", "10.6.0.63"}.isdisjoint(addresses)
    with ThreadPoolExecutor(4) as pool:
        extra = list(
            pool.map(
                lambda _i: raw.call(
                    conn, "POST", "/v2.0/ports", json={"port": {"network_id": net.id}}
                ),
                range(4),
            )
        )
    assert sorted(r.status_code for r in extra) == [201, 409, 409, 409]


def test_binding_moves_a_port_down_then_active(
    admin: openstack.connection.Connection, tenant: Tenant, lan: tuple[Any, Any]
) -> None:
    net, _sub = lan
    port = tenant.conn.network.create_port(network_id=net.id)
    assert port.status == "DOWN" and port.binding_vif_type is None
    assert admin.network.get_port(port.id).binding_vif_type == "unbound"
    bound = admin.network.update_port(
        port,
        binding_host_id="compute1",
        device_owner="compute:nova",
        device_id="11111111-2222-3333-4444-555555555555",
    )
    assert bound.binding_vif_type == "bridge" and bound.status == "DOWN"
    assert bound.binding_vif_details["bridge_name"] == "ocb" + net.id[:11]
    assert bound.binding_vif_details["devname"] == "oct" + port.id[:11]
    deadline = time.monotonic() + 10
    while admin.network.get_port(port.id).status != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    failed = admin.network.update_port(port, binding_host_id="no-such-host")
    assert failed.binding_vif_type == "binding_failed" and failed.status == "DOWN"
    assert [p.id for p in admin.network.ports(binding_host_id="no-such-host")] == [port.id]


def test_security_attributes(tenant: Tenant, lan: tuple[Any, Any]) -> None:
    net, _sub = lan
    conn = tenant.conn
    group = conn.network.create_security_group(name=name("sg"))
    port = conn.network.create_port(
        network_id=net.id,
        security_group_ids=[group.id],
        allowed_address_pairs=[{"ip_address": "10.10.0.128/25"}],
        extra_dhcp_opts=[{"opt_name": "bootfile-name", "opt_value": "pxelinux.0"}],
        dns_name="web1",
    )
    assert port.security_group_ids == [group.id]
    assert port.allowed_address_pairs == [
        {"ip_address": "10.10.0.128/25", "mac_address": port.mac_address}
    ]
    assert port.extra_dhcp_opts[0]["opt_name"] == "bootfile-name"
    assert port.dns_assignment[0]["hostname"] == "web1"
    # One address stays one address (not a /32), with the MAC given or the port's own.
    pairs = [
        {"ip_address": "10.10.0.77", "mac_address": "fa:16:3e:00:00:07"},
        {"ip_address": "2001:db8::7"},
    ]
    port = conn.network.update_port(port, allowed_address_pairs=pairs)
    assert port.allowed_address_pairs == [
        pairs[0],
        {"ip_address": "2001:db8::7", "mac_address": port.mac_address},
    ]
    for bad in ("10.10.0.300", "2001:db8::/200", 7):
        raw.assert_error(
            raw.call(
                conn,
                "PUT",
                f"/v2.0/ports/{port.id}",
                json={"port": {"allowed_address_pairs": [{"ip_address": bad}]}},
            ),
            400,
        )
    assert conn.network.get_port(port.id).allowed_address_pairs == port.allowed_address_pairs
    assert [p.id for p in conn.network.ports(security_group_ids=[group.id])] == [port.id]
    raw.assert_error(
        raw.call(
            conn, "PUT", f"/v2.0/ports/{port.id}", json={"port": {"port_security_enabled": False}}
        ),
        409,
    )
    port = conn.network.update_port(
        port, security_group_ids=[], allowed_address_pairs=[], is_port_security_enabled=False
    )
    assert port.security_group_ids == [] and port.is_port_security_enabled is False
