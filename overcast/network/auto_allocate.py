"""The auto-allocated topology (get-me-a-network): on first request a project gets a network,
a subnet from the default subnet pool and a router to the default external network, made
once (the project's row in `network_auto_allocated` is the key that decides races)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from overcast.network import faults, routers, standard
from overcast.network.kinds import Op
from overcast.network.models import AutoAllocated, Network, Port, Router, SubnetPool
from overcast.network.networks import Networks
from overcast.network.subnets import Subnets


def _body(project_id: str, network_id: str) -> dict[str, Any]:
    return {
        "auto_allocated_topology": {
            "id": network_id,
            "tenant_id": project_id,
            "project_id": project_id,
        }
    }


async def _prerequisites(op: Op) -> tuple[Network, SubnetPool]:
    external = (
        (
            await op.session.execute(
                select(Network).where(Network.external.is_(True), Network.is_default.is_(True))
            )
        )
        .scalars()
        .first()
    )
    if external is None:
        raise faults.conflict(
            "Deployment error: No default router:external network.", "AutoAllocationFailure"
        )
    pool = (
        (
            await op.session.execute(
                select(SubnetPool).where(
                    SubnetPool.is_default.is_(True), SubnetPool.ip_version == 4
                )
            )
        )
        .scalars()
        .first()
    )
    if pool is None:
        raise faults.conflict(
            "Deployment error: No default subnetpools defined.", "AutoAllocationFailure"
        )
    return external, pool


async def get(op: Op, project_id: str, dry_run: bool) -> dict[str, Any]:
    found = await op.session.get(AutoAllocated, project_id)
    if found is not None and found.network_id:
        return _body(project_id, found.network_id)
    external, pool = await _prerequisites(op)
    if dry_run:
        return {
            "auto_allocated_topology": {
                "id": "dry-run=pass",
                "tenant_id": project_id,
                "project_id": project_id,
            }
        }
    op.session.add(AutoAllocated(project_id=project_id))
    await op.session.flush()  # a concurrent first request loses here and its retry reads ours
    base = {"project_id": project_id, "description": "", "name": "auto_allocated_network"}
    net = await Networks().create(
        op,
        {
            **base,
            "admin_state_up": True,
            "shared": False,
            "router:external": False,
            "port_security_enabled": True,
            "availability_zone_hints": [],
            "is_default": False,
            "dns_domain": "",
        },
    )
    subnet = await Subnets().create(
        op,
        {
            **base,
            "name": "auto_allocated_subnet_v4",
            "network_id": net.id,
            "ip_version": 4,
            "subnetpool_id": pool.id,
            "enable_dhcp": True,
            "dns_nameservers": [],
            "host_routes": [],
            "service_types": [],
            "dns_publish_fixed_ip": False,
        },
    )
    router = await routers.Routers().create(
        op,
        {
            **base,
            "name": "auto_allocated_router",
            "admin_state_up": True,
            "availability_zone_hints": [],
            "external_gateway_info": {"network_id": external.id},
        },
    )
    await routers.add_interface(op, router, {"subnet_id": subnet.id})
    row = await op.session.get(AutoAllocated, project_id)
    assert row is not None
    row.network_id, row.router_id = net.id, router.id
    standard.bump(net)
    return _body(project_id, net.id)


async def delete(op: Op, project_id: str) -> None:
    found = await op.session.get(AutoAllocated, project_id)
    if found is None or not found.network_id:
        raise faults.not_found_text(
            f"Auto allocated topology for project {project_id} could not be found.",
            "AutoAllocatedTopologyNotFound",
        )
    router = await op.session.get(Router, found.router_id) if found.router_id else None
    if router is not None:
        for port in (
            await op.session.execute(
                select(Port).where(
                    Port.device_id == router.id, Port.device_owner == routers.INTERFACE
                )
            )
        ).scalars():
            await op.session.delete(port)
        await op.session.flush()
        await routers.Routers().delete(op, router)
    net = await op.session.get(Network, found.network_id)
    if net is not None:
        await Networks().delete(op, net)
    await op.session.delete(found)
