"""Simple tenant usage: server hours, vCPU hours, RAM and disk hours per project over a period.

Nova's arithmetic: an instance is charged from `max(launched_at, start)` to
`min(terminated_at, stop)`; instances never launched cost nothing; deleted instances still count
for the time they ran. Called by `compute.api.usage`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.compute.models.instances import Instance

_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f")


def parse_time(value: str | None) -> dt.datetime:
    """A `start`/`end` query value (UTC, naive or with an offset); now when absent."""
    if not value:
        return utcnow()
    for fmt in _FORMATS:
        try:
            return dt.datetime.strptime(value, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise errors.BadRequest("Datetime is in invalid format") from exc
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def period(start: str | None, end: str | None) -> tuple[dt.datetime, dt.datetime]:
    begin, stop = parse_time(start), parse_time(end)
    if begin >= stop:
        raise errors.BadRequest(
            "Invalid start time. The start time cannot occur after the end time."
        )
    return begin, stop


def hours(instance: Instance, start: dt.datetime, stop: dt.datetime) -> float:
    launched, ended = instance.launched_at, instance.terminated_at
    if launched is None or launched > stop or (ended is not None and ended < start):
        return 0.0
    finish = min(stop, ended) if ended is not None else stop
    return max((finish - max(launched, start)).total_seconds(), 0.0) / 3600.0


async def instances_in(
    session: AsyncSession,
    start: dt.datetime,
    stop: dt.datetime,
    project_id: str | None,
    *,
    limit: int | None = None,
    marker: str | None = None,
) -> list[Instance]:
    """Instances (deleted ones too) that ran some time in the period, oldest first."""
    stmt = select(Instance).where(
        or_(Instance.terminated_at.is_(None), Instance.terminated_at > start),
        Instance.launched_at < stop,
    )
    if project_id is not None:
        stmt = stmt.where(Instance.project_id == project_id)
    stmt = stmt.order_by(Instance.created_at, Instance.id)
    if marker is not None:
        after = await session.scalar(select(Instance).where(Instance.uuid == marker))
        if after is None:
            raise errors.BadRequest(f"Marker {marker} could not be found.")
        stmt = stmt.where(
            or_(
                Instance.created_at > after.created_at,
                (Instance.created_at == after.created_at) & (Instance.id > after.id),
            )
        )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.execute(stmt)).scalars())


def server_usage(instance: Instance, start: dt.datetime, stop: dt.datetime) -> dict[str, Any]:
    flavor = instance.flavor or {}
    ended = instance.terminated_at
    launched = instance.launched_at or start
    state = "terminated" if ended is not None else instance.vm_state
    uptime = ((ended or utcnow()) - launched).total_seconds()
    return {
        "instance_id": instance.uuid,
        "name": instance.display_name,
        "tenant_id": instance.project_id,
        "flavor": flavor.get("name", ""),
        "hours": hours(instance, start, stop),
        "vcpus": int(flavor.get("vcpus", 0)),
        "memory_mb": int(flavor.get("memory_mb", 0)),
        "local_gb": int(flavor.get("root_gb", 0)) + int(flavor.get("ephemeral_gb", 0)),
        "started_at": instance.launched_at,
        "ended_at": ended,
        "state": state,
        "uptime": int(uptime),
    }


def _summary(
    project_id: str, start: dt.datetime, stop: dt.datetime, detailed: bool
) -> dict[str, Any]:
    return {
        "tenant_id": project_id,
        "total_local_gb_usage": 0.0,
        "total_vcpus_usage": 0.0,
        "total_memory_mb_usage": 0.0,
        "total_hours": 0.0,
        "start": start,
        "stop": stop,
        **({"server_usages": []} if detailed else {}),
    }


def summarise(
    instances: list[Instance],
    start: dt.datetime,
    stop: dt.datetime,
    *,
    detailed: bool,
    project_id: str | None = None,
) -> list[dict[str, Any]]:
    """One usage summary per project, in the order the projects first appear (and a zero one
    for `project_id` when it used nothing)."""
    out: dict[str, dict[str, Any]] = {}
    if project_id is not None and not instances:
        out[project_id] = _summary(project_id, start, stop, detailed)
    for instance in instances:
        info = server_usage(instance, start, stop)
        summary = out.setdefault(
            instance.project_id, _summary(instance.project_id, start, stop, detailed)
        )
        summary["total_local_gb_usage"] += info["local_gb"] * info["hours"]
        summary["total_vcpus_usage"] += info["vcpus"] * info["hours"]
        summary["total_memory_mb_usage"] += info["memory_mb"] * info["hours"]
        summary["total_hours"] += info["hours"]
        if detailed:
            summary["server_usages"].append(info)
    return list(out.values())
