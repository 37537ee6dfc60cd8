"""Block storage quotas: limits (built-in defaults from settings, quota class `default`,
per-project overrides) and usage counted from what exists, as one SQL aggregate.

`reserve` is what the API calls before it records volumes, snapshots or backups, in the
transaction that then writes them: the project's lock row is bumped first, so concurrent
creates of one project check and write one at a time and quota usage always equals what exists.
A resource stops counting when `consumes_quota` is cleared (a failed create returns its quota).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.config import VolumeSettings
from overcast.common.db import locks
from overcast.volume.models.backups import Backup
from overcast.volume.models.quotas import ProjectLock, Quota, QuotaClass
from overcast.volume.models.volumes import Snapshot, Volume

UNLIMITED = -1
RESOURCES = (
    "volumes",
    "snapshots",
    "gigabytes",
    "backups",
    "backup_gigabytes",
    "groups",
    "per_volume_gigabytes",
)


class OverQuota(errors.OverQuota):
    """Cinder answers an exceeded quota with 413 `overLimit`."""


def builtin(settings: VolumeSettings) -> dict[str, int]:
    return {
        "volumes": settings.quota_volumes,
        "snapshots": settings.quota_snapshots,
        "gigabytes": settings.quota_gigabytes,
        "backups": settings.quota_backups,
        "backup_gigabytes": settings.quota_backup_gigabytes,
        "groups": settings.quota_groups,
        "per_volume_gigabytes": settings.per_volume_size_limit,
    }


async def class_limits(
    session: AsyncSession, settings: VolumeSettings, class_name: str = "default"
) -> dict[str, int]:
    values = builtin(settings)
    rows = await session.execute(select(QuotaClass).where(QuotaClass.class_name == class_name))
    values.update({r.resource: r.hard_limit for r in rows.scalars() if r.resource in values})
    return values


async def limits(
    session: AsyncSession, settings: VolumeSettings, project_id: str
) -> dict[str, int]:
    values = await class_limits(session, settings)
    rows = await session.execute(select(Quota).where(Quota.project_id == project_id))
    values.update({r.resource: r.hard_limit for r in rows.scalars() if r.resource in values})
    return values


async def usage(session: AsyncSession, project_id: str) -> dict[str, int]:
    """What `project_id` uses now, counted from the rows in one statement."""

    def counted(model: type[Volume] | type[Snapshot] | type[Backup], size: object) -> Any:
        live = [model.project_id == project_id, model.deleted.is_(False)]
        if model is Backup:
            live.append(Backup.status != "error")
        else:
            live.append(model.consumes_quota.is_(True))  # type: ignore[union-attr]
        return (
            select(func.count(model.id)).where(*live).scalar_subquery(),
            select(func.coalesce(func.sum(size), 0)).where(*live).scalar_subquery(),
        )

    row = (
        await session.execute(
            select(
                *counted(Volume, Volume.size),
                *counted(Snapshot, Snapshot.volume_size),
                *counted(Backup, Backup.size),
            )
        )
    ).one()
    count, gigabytes, snap_count, snap_gb, backup_count, backup_gb = (int(v) for v in row)
    return {
        "volumes": count,
        "snapshots": snap_count,
        "gigabytes": gigabytes + snap_gb,
        "backups": backup_count,
        "backup_gigabytes": backup_gb,
        "groups": 0,
    }


_WORDS = {
    "gigabytes": "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed"
    " gigabytes quota. Requested {r}G, quota is {a}G and {u}G has been consumed.",
    "volumes": "VolumeLimitExceeded: Maximum number of volumes allowed ({a}) exceeded for quota"
    " 'volumes'.",
    "snapshots": "SnapshotLimitExceeded: Maximum number of snapshots allowed ({a}) exceeded.",
    "backups": "BackupLimitExceeded: Maximum number of backups allowed ({a}) exceeded.",
    "backup_gigabytes": "VolumeBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed"
    " Backup gigabytes quota. Requested {r}G, quota is {a}G and {u}G has been consumed.",
}


async def reserve(
    session: AsyncSession, settings: VolumeSettings, project_id: str, deltas: Mapping[str, int]
) -> None:
    """Check that `project_id` may grow by `deltas` (e.g. {"volumes": 1, "gigabytes": 10});
    raise OverQuota (413) in Cinder's words otherwise. Nothing is recorded: once the rows
    exist they are the usage. Call it first in the transaction that writes them."""
    wanted = {k: int(v) for k, v in deltas.items() if int(v) > 0}
    if not wanted:
        return
    await locks.bump(session, ProjectLock, "project_id", project_id, "generation")
    hard = await limits(session, settings, project_id)
    used = await usage(session, project_id)
    for resource in ("gigabytes", "backup_gigabytes", "volumes", "snapshots", "backups"):
        if resource not in wanted:
            continue
        allowed = hard.get(resource, UNLIMITED)
        if 0 <= allowed < used.get(resource, 0) + wanted[resource]:
            raise OverQuota(
                _WORDS[resource].format(r=wanted[resource], a=allowed, u=used.get(resource, 0))
            )


def check_size(limits_: Mapping[str, int], size: int) -> None:
    """Cinder's per-volume size limit (`per_volume_gigabytes`)."""
    allowed = limits_.get("per_volume_gigabytes", UNLIMITED)
    if 0 <= allowed < size:
        raise errors.BadRequest(
            f"Volume size '{size}GB' must be an integer and greater than 0 and not more than"
            f" the per volume limit of {allowed}GB."
        )


async def set_limits(
    session: AsyncSession,
    model: type[Quota] | type[QuotaClass],
    key: str,
    values: Mapping[str, int],
) -> None:
    """Set limits of a project (`Quota`) or a quota class (`QuotaClass`) named `key`."""
    owner = "project_id" if model is Quota else "class_name"
    for resource, limit in values.items():
        row = await session.get(model, (key, resource))
        if row is None:
            session.add(model(**{owner: key, "resource": resource, "hard_limit": limit}))
        else:
            row.hard_limit = limit
    await session.flush()


async def reset_project(session: AsyncSession, project_id: str) -> None:
    rows = await session.execute(select(Quota).where(Quota.project_id == project_id))
    for row in rows.scalars():
        await session.delete(row)
