"""The host view of Nova's `os-hosts` (served below microversion 2.43): the services of each
host with their zone, and one compute host's resources, totals and per project. Called by
`compute.api.hosts`."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.config import ComputeSettings
from overcast.compute import host_services
from overcast.compute.models.hosts import ComputeNode
from overcast.compute.models.instances import Instance


async def list_hosts(
    session: AsyncSession, settings: ComputeSettings, zone: str | None
) -> list[dict[str, str]]:
    """One row per service: its host, its kind (`compute`, `scheduler`, ...) and zone."""
    views = await host_services.list_services(session, settings)
    return [
        {
            "host_name": v.row.host,
            "service": v.row.binary.removeprefix("nova-"),
            "zone": v.zone,
        }
        for v in views
        if zone is None or v.zone == zone
    ]


async def compute_service(session: AsyncSession, host: str) -> Any:
    """The compute service of `host`; errors.NotFound when it has none."""
    try:
        return await host_services.find_by_host(session, host, host_services.COMPUTE)
    except errors.NotFound as exc:
        raise errors.NotFound(f"Compute host {host} could not be found.") from exc


def _row(host: str, project: str, cpu: int, memory_mb: int, disk_gb: int) -> dict[str, Any]:
    return {
        "resource": {
            "host": host,
            "project": project,
            "cpu": cpu,
            "memory_mb": memory_mb,
            "disk_gb": disk_gb,
        }
    }


async def resources(session: AsyncSession, host: str) -> list[dict[str, Any]]:
    """`(total)` of the host's nodes, `(used_now)` by its servers, `(used_max)` (the same for a
    host that does not overcommit beyond what runs), then each project's share."""
    await compute_service(session, host)
    nodes = list(
        (await session.execute(select(ComputeNode).where(ComputeNode.host == host))).scalars()
    )
    servers = (
        await session.execute(
            select(Instance).where(Instance.host == host, Instance.deleted.is_(False))
        )
    ).scalars()
    per_project: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for inst in servers:
        used = per_project[inst.project_id]
        used[0] += inst.vcpus
        used[1] += inst.memory_mb
        used[2] += inst.root_gb
    used_now = [sum(u[i] for u in per_project.values()) for i in range(3)]
    out = [
        _row(
            host,
            "(total)",
            sum(n.vcpus for n in nodes),
            sum(n.memory_mb for n in nodes),
            sum(n.local_gb for n in nodes),
        ),
        _row(host, "(used_now)", *used_now),
        _row(host, "(used_max)", *used_now),
    ]
    out.extend(_row(host, project, *used) for project, used in sorted(per_project.items()))
    return out
