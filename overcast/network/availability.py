"""Read-only views across resources: network IP availability (used and total addresses per
network and subnet) and the availability zones the agents report."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from overcast.network import bindings, faults, ipam
from overcast.network.attributes import Query
from overcast.network.kinds import Op
from overcast.network.models import Agent, IPAllocation, Network, Subnet


async def ip_availability(op: Op, q: Query, network_id: str | None = None) -> list[dict[str, Any]]:
    stmt = select(Network).order_by(Network.id)
    if network_id is not None:
        stmt = stmt.where(Network.id == network_id)
    wanted = q.filters
    for key, column in (
        ("network_id", Network.id),
        ("network_name", Network.name),
        ("project_id", Network.project_id),
    ):
        if key in wanted:
            stmt = stmt.where(column.in_(wanted[key]))
    unknown = set(wanted) - {"network_id", "network_name", "project_id", "ip_version"}
    if unknown:
        raise faults.bad(
            f"[{sorted(unknown)[0]}] is invalid attribute for filtering", "HTTPBadRequest"
        )
    nets = list((await op.session.execute(stmt)).scalars())
    if network_id is not None and not nets:
        raise faults.not_found("network", network_id)
    ids = [n.id for n in nets]
    subnets: dict[str, list[Subnet]] = {}
    used: dict[str, int] = {}
    if ids:
        for subnet in (
            await op.session.execute(select(Subnet).where(Subnet.network_id.in_(ids)))
        ).scalars():
            subnets.setdefault(subnet.network_id, []).append(subnet)
        counts = await op.session.execute(
            select(IPAllocation.subnet_id, func.count())
            .where(IPAllocation.network_id.in_(ids))
            .group_by(IPAllocation.subnet_id)
        )
        used = {subnet_id: int(count) for subnet_id, count in counts}
    versions = {int(v) for v in wanted.get("ip_version", [])}
    out = []
    for net in nets:
        per = [
            {
                "subnet_id": s.id,
                "subnet_name": s.name,
                "cidr": s.cidr,
                "ip_version": s.ip_version,
                "total_ips": ipam.pool_size(s.allocation_pools),
                "used_ips": used.get(s.id, 0),
            }
            for s in subnets.get(net.id, [])
            if not versions or s.ip_version in versions
        ]
        if versions and not per:
            continue
        out.append(
            {
                "network_id": net.id,
                "network_name": net.name,
                "project_id": net.project_id,
                "tenant_id": net.project_id,
                "total_ips": sum(p["total_ips"] for p in per),
                "used_ips": sum(p["used_ips"] for p in per),
                "subnet_ip_availability": per,
            }
        )
    return out


async def zones(op: Op, q: Query) -> list[dict[str, Any]]:
    """One zone per (name, resource) that a live agent serves: DHCP agents serve networks,
    L3 agents routers (an L2-only deployment offers its configured zones for both)."""
    down = op.st.settings.network.agent_down_time
    found: dict[tuple[str, str], str] = {}
    for agent in (await op.session.execute(select(Agent))).scalars():
        if not agent.availability_zone:
            continue
        resource = {"DHCP agent": "network", "L3 agent": "router"}.get(agent.agent_type)
        if resource is None:
            continue
        state = (
            "available" if bindings.alive(agent, down) and agent.admin_state_up else "unavailable"
        )
        key = (agent.availability_zone, resource)
        if found.get(key) != "available":
            found[key] = state
    if not found:
        for zone in op.st.settings.network.default_availability_zones:
            found[(zone, "network")] = found[(zone, "router")] = "available"
    items = [{"name": n, "resource": r, "state": s} for (n, r), s in sorted(found.items())]
    for key, values in q.filters.items():
        if key not in ("name", "resource", "state"):
            raise faults.bad(f"[{key}] is invalid attribute for filtering", "HTTPBadRequest")
        items = [i for i in items if i[key] in values]
    return items
