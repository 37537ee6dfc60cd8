"""One project cannot see, use or attach to another's networks, subnets, ports, routers,
floating IPs or security groups, unless shared or granted by an RBAC policy."""

from __future__ import annotations

from typing import Any

import openstack
import openstack.exceptions as osexc
import pytest

from tests.helpers.isolation import Tenant, assert_hidden
from tests.network import raw
from tests.network.conftest import name


def test_resources_are_hidden_from_other_projects(tenant_factory: Any, public: Any) -> None:
    owner, other = tenant_factory(), tenant_factory()
    conn = owner.conn
    net = conn.network.create_network(name=name("net"))
    sub = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.40.0.0/24")
    port = conn.network.create_port(network_id=net.id)
    router = conn.network.create_router(
        name=name("r"), external_gateway_info={"network_id": public.id}
    )
    conn.network.add_interface_to_router(router, subnet_id=sub.id)
    fip = conn.network.create_ip(floating_network_id=public.id, port_id=port.id)
    group = conn.network.create_security_group(name=name("sg"))
    them = other.conn.network
    assert_hidden(
        lambda: them.get_network(net.id),
        lambda: them.get_subnet(sub.id),
        lambda: them.get_port(port.id),
        lambda: them.get_router(router.id),
        lambda: them.get_ip(fip.id),
        lambda: them.get_security_group(group.id),
        lambda: them.update_network(net.id, name="stolen"),
        lambda: them.delete_port(port.id, ignore_missing=False),
        lambda: them.update_ip(fip.id, port_id=None),
        lambda: them.delete_security_group(group.id, ignore_missing=False),
        lambda: them.add_interface_to_router(router.id, subnet_id=sub.id),
    )
    seen = (
        {n.id for n in them.networks()}
        | {s.id for s in them.subnets()}
        | {p.id for p in them.ports()}
    )
    seen |= (
        {r.id for r in them.routers()}
        | {f.id for f in them.ips()}
        | {g.id for g in them.security_groups()}
    )
    assert seen.isdisjoint({net.id, sub.id, port.id, router.id, fip.id, group.id})
    for path, body in (
        ("/v2.0/ports", {"port": {"network_id": net.id}}),
        (
            "/v2.0/subnets",
            {"subnet": {"network_id": net.id, "ip_version": 4, "cidr": "10.41.0.0/24"}},
        ),
        ("/v2.0/ports", {"port": {"network_id": public.id}}),
    ):
        answer = raw.call(other.conn, "POST", path, json=body)
        assert answer.status_code in (403, 404), answer.text
    mine = them.create_network(name=name("mine"))
    mine_sub = them.create_subnet(network_id=mine.id, ip_version=4, cidr="10.42.0.0/24")
    answer = raw.call(
        other.conn,
        "PUT",
        f"/v2.0/routers/{router.id}/add_router_interface",
        json={"subnet_id": mine_sub.id},
    )
    assert answer.status_code == 404
    attach = raw.call(
        conn,
        "PUT",
        f"/v2.0/routers/{router.id}/add_router_interface",
        json={"subnet_id": mine_sub.id},
    )
    assert attach.status_code == 404
    stolen = raw.call(
        conn,
        "POST",
        "/v2.0/ports",
        json={
            "port": {
                "network_id": net.id,
                "security_groups": [g.id for g in them.security_groups()],
            }
        },
    )
    raw.assert_error(stolen, 404, "SecurityGroupNotFound")
    assert conn.network.get_network(net.id).name == net.name


def test_shared_and_rbac_networks(
    admin: openstack.connection.Connection, tenant_factory: Any
) -> None:
    owner, guest, stranger = tenant_factory(), tenant_factory(), tenant_factory()
    net = owner.conn.network.create_network(name=name("net"))
    owner.conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.50.0.0/24")
    with pytest.raises(osexc.NotFoundException):
        guest.conn.network.create_port(network_id=net.id)
    policy = owner.conn.network.create_rbac_policy(
        object_type="network",
        object_id=net.id,
        action="access_as_shared",
        target_project_id=guest.project_id,
    )
    assert guest.conn.network.get_network(net.id).id == net.id
    port = guest.conn.network.create_port(network_id=net.id)
    assert port.project_id == guest.project_id
    assert stranger.conn.network.find_network(net.id) is None
    raw.assert_error(
        raw.call(owner.conn, "DELETE", f"/v2.0/rbac-policies/{policy.id}"), 409, "RbacPolicyInUse"
    )
    ext = raw.call(
        owner.conn,
        "POST",
        "/v2.0/rbac-policies",
        json={
            "rbac_policy": {
                "object_type": "network",
                "object_id": net.id,
                "action": "access_as_external",
                "target_tenant": guest.project_id,
            }
        },
    )
    raw.assert_error(ext, 403)
    guest.conn.network.delete_port(port)
    owner.conn.network.delete_rbac_policy(policy)
    assert guest.conn.network.find_network(net.id) is None
    shared = admin.network.create_network(
        name=name("shared"), is_shared=True, project_id=owner.project_id
    )
    admin.network.create_subnet(network_id=shared.id, ip_version=4, cidr="10.51.0.0/24")
    stray = stranger.conn.network.create_port(network_id=shared.id)
    assert stray.network_id == shared.id
    answer = raw.call(
        owner.conn, "PUT", f"/v2.0/networks/{shared.id}", json={"network": {"shared": False}}
    )
    assert answer.status_code in (403, 409)
    # A shared network stays visible to every project of this server (demo's boots with
    # networks=auto would find two): it goes.
    stranger.conn.network.delete_port(stray)
    admin.network.delete_network(shared)


def test_member_cannot_read_binding_details(
    admin: openstack.connection.Connection, tenant: Tenant, lan: tuple[Any, Any]
) -> None:
    net, _sub = lan
    port = tenant.conn.network.create_port(network_id=net.id)
    admin.network.update_port(port, binding_host_id="compute1")
    body = raw.call(tenant.conn, "GET", f"/v2.0/ports/{port.id}").json()["port"]
    assert not any(k.startswith("binding:") and k != "binding:vnic_type" for k in body)
    raw.assert_error(
        raw.call(
            tenant.conn,
            "PUT",
            f"/v2.0/ports/{port.id}",
            json={"port": {"binding:host_id": "compute2"}},
        ),
        403,
    )
