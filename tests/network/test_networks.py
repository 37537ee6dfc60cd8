"""Networks: self-service segments from the configured ranges, provider attributes (admin
only), multi-segment networks, MTU, shared, external, and the admin-only attributes a member
may neither set nor see."""

from __future__ import annotations

import openstack
import openstack.exceptions as osexc
import pytest

from tests.helpers.isolation import Tenant
from tests.helpers.server import Server
from tests.network import raw
from tests.network.conftest import cli_as, name


def test_self_service_network_gets_a_vxlan_segment(
    admin: openstack.connection.Connection, tenant: Tenant
) -> None:
    net = tenant.conn.network.create_network(name=name("net"))
    assert net.status == "ACTIVE" and net.mtu == 1450 and net.is_port_security_enabled
    assert net.provider_network_type is None  # members do not see provider attributes
    seen = admin.network.get_network(net.id)
    assert seen.provider_network_type == "vxlan" and seen.provider_segmentation_id >= 1
    other = tenant.conn.network.create_network(name=name("net"))
    assert (
        admin.network.get_network(other.id).provider_segmentation_id
        != seen.provider_segmentation_id
    )


def test_provider_vlan_ids_are_never_used_twice(admin: openstack.connection.Connection) -> None:
    net = admin.network.create_network(
        name=name("vlan"),
        provider_network_type="vlan",
        provider_physical_network="physnet1",
        provider_segmentation_id=150,
    )
    assert (net.provider_network_type, net.provider_segmentation_id, net.mtu) == ("vlan", 150, 1500)
    again = raw.call(
        admin,
        "POST",
        "/v2.0/networks",
        json={
            "network": {
                "name": "dup",
                "provider:network_type": "vlan",
                "provider:physical_network": "physnet1",
                "provider:segmentation_id": 150,
            }
        },
    )
    raw.assert_error(again, 409, "VlanIdInUse")
    assert not list(admin.network.networks(name="dup"))
    admin.network.delete_network(net)
    back = admin.network.create_network(
        name=name("vlan"),
        provider_network_type="vlan",
        provider_physical_network="physnet1",
        provider_segmentation_id=150,
    )
    admin.network.delete_network(back)


@pytest.mark.parametrize(
    ("segment", "status"),
    [
        (
            {
                "provider:network_type": "vlan",
                "provider:physical_network": "nowhere",
                "provider:segmentation_id": 5,
            },
            400,
        ),
        (
            {
                "provider:network_type": "vlan",
                "provider:physical_network": "physnet1",
                "provider:segmentation_id": 5000,
            },
            400,
        ),
        ({"provider:network_type": "flat"}, 400),
        ({"provider:network_type": "vxlan", "provider:physical_network": "physnet1"}, 400),
        ({"provider:network_type": "token-ring"}, 400),
        ({"provider:network_type": "flat", "provider:physical_network": "public"}, 409),
    ],
)
def test_bad_provider_segments(
    admin: openstack.connection.Connection, segment: dict[str, object], status: int
) -> None:
    before = len(list(admin.network.networks()))
    raw.assert_error(
        raw.call(admin, "POST", "/v2.0/networks", json={"network": {"name": "bad", **segment}}),
        status,
    )
    assert len(list(admin.network.networks())) == before


def test_multi_segment_network(admin: openstack.connection.Connection) -> None:
    segments = [
        {
            "provider:network_type": "vlan",
            "provider:physical_network": "physnet1",
            "provider:segmentation_id": 160,
        },
        {"provider:network_type": "vxlan", "provider:segmentation_id": 40000},
    ]
    net = admin.network.create_network(name=name("multi"), segments=segments)
    assert net.segments == [{**segments[0]}, {**segments[1], "provider:physical_network": None}]
    assert net.mtu == 1450
    raw.assert_error(
        raw.call(
            admin,
            "POST",
            "/v2.0/networks",
            json={"network": {"segments": segments[1:], "provider:network_type": "vxlan"}},
        ),
        400,
    )
    vlan = list(admin.network.networks(provider_segmentation_id=160))
    assert [n.id for n in vlan] == [net.id]
    admin.network.delete_network(net)


def test_member_may_not_set_admin_attributes(tenant: Tenant) -> None:
    conn = tenant.conn
    for attrs in ({"shared": True}, {"router:external": True}, {"provider:network_type": "vxlan"}):
        raw.assert_error(
            raw.call(conn, "POST", "/v2.0/networks", json={"network": {"name": "x", **attrs}}),
            403,
            "PolicyNotAuthorized",
        )
    net = conn.network.create_network(name=name("net"))
    with pytest.raises(osexc.ForbiddenException):
        conn.network.update_network(net, is_shared=True)
    assert [n.id for n in conn.network.networks(project_id=tenant.project_id)] == [net.id]


def test_mtu_and_updates(tenant: Tenant) -> None:
    conn = tenant.conn
    net = conn.network.create_network(name=name("net"), mtu=1400)
    assert net.mtu == 1400
    raw.assert_error(
        raw.call(conn, "PUT", f"/v2.0/networks/{net.id}", json={"network": {"mtu": 9000}}), 400
    )
    raw.assert_error(raw.call(conn, "POST", "/v2.0/networks", json={"network": {"mtu": 20}}), 400)
    net = conn.network.update_network(net, name="renamed", mtu=1300, is_port_security_enabled=False)
    assert (net.name, net.mtu, net.is_port_security_enabled) == ("renamed", 1300, False)
    raw.assert_error(
        raw.call(
            conn, "POST", "/v2.0/networks", json={"network": {"availability_zone_hints": ["mars"]}}
        ),
        404,
    )


def test_network_cli(server: Server, tenant: Tenant) -> None:
    made = cli_as(server, tenant, "network", "create", "clinet")
    assert made["name"] == "clinet" and made["status"] == "ACTIVE"
    listed = cli_as(server, tenant, "network", "list")
    assert "clinet" in {n["Name"] for n in listed} and "public" in {n["Name"] for n in listed}
