"""Hypervisors as the os-hypervisors API shows them: compute nodes with their compute service
(state, status), the instances on them and the totals over enabled nodes.
Called by `compute.api.hypervisors`.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.config import ComputeSettings
from overcast.compute import host_services
from overcast.compute.host_services import ServiceView
from overcast.compute.models.hosts import ComputeNode, Service
from overcast.compute.models.instances import Instance


@dataclass(frozen=True)
class Hypervisor:
    node: ComputeNode
    service: ServiceView | None


def json_text(value: dict[str, Any]) -> str:
    """`cpu_info` before 2.28 is a JSON string."""
    return json.dumps(value)


async def _with_services(
    session: AsyncSession, settings: ComputeSettings, nodes: list[ComputeNode]
) -> list[Hypervisor]:
    views = await host_services.list_services(session, settings, binary=host_services.COMPUTE)
    by_host = {v.row.host: v for v in views}
    return [Hypervisor(n, by_host.get(n.host)) for n in nodes]


async def list_nodes(
    session: AsyncSession,
    settings: ComputeSettings,
    *,
    pattern: str | None = None,
    limit: int | None = None,
    marker: str | None = None,
    uuid_marker: bool = True,
) -> list[Hypervisor]:
    """Nodes in id order; `pattern` matches part of the hostname (404 when none does)."""
    stmt = select(ComputeNode).order_by(ComputeNode.id)
    if pattern is not None:
        stmt = stmt.where(ComputeNode.hypervisor_hostname.contains(pattern, autoescape=True))
    if marker is not None:
        column = ComputeNode.uuid if uuid_marker else ComputeNode.id
        value: Any = marker if uuid_marker else (int(marker) if marker.isdigit() else None)
        after = await session.scalar(select(ComputeNode.id).where(column == value))
        if after is None:
            raise errors.BadRequest(f"marker [{marker}] not found")
        stmt = stmt.where(ComputeNode.id > after)
    if limit is not None:
        stmt = stmt.limit(limit)
    nodes = list((await session.execute(stmt)).scalars())
    if pattern is not None and not nodes:
        raise errors.NotFound(f"No hypervisor matching '{pattern}' could be found.")
    return await _with_services(session, settings, nodes)


async def get(
    session: AsyncSession, settings: ComputeSettings, ident: str, uuid_ids: bool
) -> Hypervisor:
    """One node by UUID (2.53+) or integer id."""
    if uuid_ids:
        try:
            uuid.UUID(ident)
        except ValueError as exc:
            raise errors.BadRequest(f"Invalid uuid {ident}") from exc
        stmt = select(ComputeNode).where(ComputeNode.uuid == ident)
    else:
        if not ident.isdigit():
            raise errors.NotFound(f"Hypervisor with ID '{ident}' could not be found.")
        stmt = select(ComputeNode).where(ComputeNode.id == int(ident))
    node = await session.scalar(stmt)
    if node is None:
        raise errors.NotFound(f"Hypervisor with ID '{ident}' could not be found.")
    return (await _with_services(session, settings, [node]))[0]


async def servers_by_host(session: AsyncSession) -> dict[str, list[Instance]]:
    rows = await session.execute(
        select(Instance)
        .where(Instance.deleted.is_(False), Instance.host.is_not(None))
        .order_by(Instance.id)
    )
    out: dict[str, list[Instance]] = defaultdict(list)
    for inst in rows.scalars():
        out[inst.host or ""].append(inst)
    return dict(out)


async def statistics(session: AsyncSession) -> dict[str, int]:
    """Totals over the nodes whose compute service is enabled (Nova's statistics)."""
    enabled = select(Service.host).where(
        Service.binary == host_services.COMPUTE, Service.disabled.is_(False)
    )
    nodes = (
        await session.execute(select(ComputeNode).where(ComputeNode.host.in_(enabled)))
    ).scalars()
    keys = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used")
    stats = dict.fromkeys(("count", *keys, "free_ram_mb", "free_disk_gb"), 0)
    stats.update(current_workload=0, running_vms=0, disk_available_least=0)
    for node in nodes:
        stats["count"] += 1
        for key in keys:
            stats[key] += int(getattr(node, key) or 0)
        stats["free_ram_mb"] += node.memory_mb - node.memory_mb_used
        stats["free_disk_gb"] += node.local_gb - node.local_gb_used
        stats["disk_available_least"] += node.local_gb - node.local_gb_used
        stats["running_vms"] += node.running_vms
    return stats
