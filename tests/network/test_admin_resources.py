"""Quotas (`openstack quota show/set` cover network), agents with heartbeats, availability
zones and the auto-allocated topology."""

from __future__ import annotations

import openstack
import openstack.exceptions as osexc
import pytest

from tests.helpers.isolation import Tenant
from tests.helpers.server import Server
from tests.network import raw
from tests.network.conftest import name


def test_quotas(server: Server, admin: openstack.connection.Connection, tenant: Tenant) -> None:
    listed = server.cli_json("quota", "show", tenant.project_name)
    shown = (
        {row["Resource"]: row["Limit"] for row in listed} if isinstance(listed, list) else listed
    )
    assert shown["networks"] == 100 and shown["ports"] == 500 and shown["routers"] == 10
    server.cli("quota", "set", "--networks", "2", "--ports", "3", tenant.project_name)
    assert admin.network.get_quota(tenant.project_id).networks == 2
    conn = tenant.conn
    net = conn.network.create_network(name=name("q"))
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.60.0.0/24")
    conn.network.create_network(name=name("q"))
    raw.assert_error(
        raw.call(conn, "POST", "/v2.0/networks", json={"network": {}}), 409, "OverQuota"
    )
    for _ in range(3):
        conn.network.create_port(network_id=net.id)
    raw.assert_error(
        raw.call(conn, "POST", "/v2.0/ports", json={"port": {"network_id": net.id}}),
        409,
        "OverQuota",
    )
    assert len(list(conn.network.ports(network_id=net.id))) == 3
    details = admin.network.get_quota(tenant.project_id, details=True)
    assert details.networks == {"limit": 2, "used": 2, "reserved": 0}
    with pytest.raises(osexc.ForbiddenException):
        conn.network.update_quota(tenant.project_id, networks=50)
    raw.assert_error(
        raw.call(
            admin, "PUT", f"/v2.0/quotas/{tenant.project_id}", json={"quota": {"networks": "lots"}}
        ),
        400,
    )
    raw.assert_error(
        raw.call(admin, "PUT", f"/v2.0/quotas/{tenant.project_id}", json={"quota": {"bananas": 3}}),
        400,
    )
    admin.network.delete_quota(tenant.project_id)
    assert admin.network.get_quota(tenant.project_id).networks == 100


def test_agents_and_zones(
    server: Server, admin: openstack.connection.Connection, tenant: Tenant
) -> None:
    agents = server.cli_json("network", "agent", "list")
    hosts = {a["Host"] for a in agents}
    assert {"compute1", "compute2", "compute3"} <= hosts
    assert all(a["Alive"] for a in agents)
    agent = next(a for a in admin.network.agents(host="compute2"))
    assert agent.agent_type == "Noop agent" and agent.is_alive
    assert agent.configuration["network_types"]
    admin.network.update_agent(agent, description="rack 2")
    assert admin.network.get_agent(agent.id).description == "rack 2"
    with pytest.raises(osexc.NotFoundException):
        tenant.conn.network.get_agent(agent.id)
    assert list(tenant.conn.network.agents()) == []
    zones = {(z.name, z.resource, z.state) for z in tenant.conn.network.availability_zones()}
    assert ("nova", "network", "available") in zones and ("nova", "router", "available") in zones


def test_auto_allocated_topology(tenant: Tenant) -> None:
    conn = tenant.conn
    topology = conn.network.get_auto_allocated_topology(tenant.project_id)
    again = conn.network.get_auto_allocated_topology(tenant.project_id)
    assert topology.id == again.id
    net = conn.network.get_network(topology.id)
    (sub,) = conn.network.subnets(network_id=net.id)
    assert sub.cidr.startswith("10.128.") and sub.cidr.endswith("/26")
    (router,) = conn.network.routers(project_id=tenant.project_id)
    assert router.external_gateway_info is not None
    conn.network.delete_auto_allocated_topology(tenant.project_id)
    assert conn.network.find_network(net.id) is None


def test_agent_delete(admin: openstack.connection.Connection) -> None:
    answer = raw.call(admin, "DELETE", "/v2.0/agents/4a4e4f3b-0000-4000-8000-000000000000")
    raw.assert_error(answer, 404, "AgentNotFound")
