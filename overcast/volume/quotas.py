"""Block storage quotas: limits (built-in defaults from settings, quota class `default`,
per-project overrides) and usage counted from what exists, as one SQL aggregate.

`reserve` is what the API calls before it records volumes, snapshots or backups, in the
transaction that then writes them: the project's lock row is bumped first, so concurrent
creates of one project check and write one at a time and quota usage always equals what exists.
A resource stops counting when `consumes_quota` is cleared (a failed create returns its quota).

Per volume type, as Cinder has them: `volumes_<type>`, `gigabytes_<type>` and `snapshots_<type>`
for every type (unlimited unless a class or project sets them), counted from the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.config import VolumeSettings
from overcast.common.db import locks
from overcast.volume.models.backups import Backup
from overcast.volume.models.groups import Group
from overcast.volume.models.quotas import ProjectLock, Quota, QuotaClass
from overcast.volume.models.types import VolumeType
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
TYPED = ("volumes", "gigabytes", "snapshots")
# {volume type id: {"volumes"|"gigabytes"|"snapshots": amount}}
PerType = Mapping[str, Mapping[str, int]]


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


async def type_names(session: AsyncSession) -> dict[str, str]:
    """{id: name} of the volume types that exist."""
    rows = await session.execute(
        select(VolumeType.id, VolumeType.name).where(VolumeType.deleted.is_(False))
    )
    return {type_id: name for type_id, name in rows.tuples()}


def typed_keys(names: Iterable[str]) -> list[str]:
    return [f"{kind}_{name}" for name in names for kind in TYPED]


async def resource_names(session: AsyncSession) -> set[str]:
    """Every quota a project or class may set: the fixed ones and those of each type."""
    return {*RESOURCES, *typed_keys((await type_names(session)).values())}


async def class_limits(
    session: AsyncSession, settings: VolumeSettings, class_name: str = "default"
) -> dict[str, int]:
    values = builtin(settings)
    values.update(dict.fromkeys(typed_keys((await type_names(session)).values()), UNLIMITED))
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


async def usage(session: AsyncSession, project_id: str, typed: bool = True) -> dict[str, int]:
    """What `project_id` uses now, counted from the rows in one statement (and, with `typed`,
    per volume type in two more)."""

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
                select(func.count(Group.id))
                .where(Group.project_id == project_id, Group.deleted.is_(False))
                .scalar_subquery(),
            )
        )
    ).one()
    count, gigabytes, snap_count, snap_gb, backup_count, backup_gb, groups = (int(v) for v in row)
    out = {
        "volumes": count,
        "snapshots": snap_count,
        "gigabytes": gigabytes + snap_gb,
        "backups": backup_count,
        "backup_gigabytes": backup_gb,
        "groups": groups,
    }
    if typed:
        out.update(await _typed_usage(session, project_id, await type_names(session)))
    return out


async def _typed_usage(
    session: AsyncSession, project_id: str, names: Mapping[str, str]
) -> dict[str, int]:
    out = dict.fromkeys(typed_keys(names.values()), 0)
    counted: tuple[tuple[Any, Any, str], ...] = (
        (Volume, Volume.size, "volumes"),
        (Snapshot, Snapshot.volume_size, "snapshots"),
    )
    for model, size, kind in counted:
        rows = await session.execute(
            select(model.volume_type_id, func.count(model.id), func.coalesce(func.sum(size), 0))
            .where(
                model.project_id == project_id,
                model.deleted.is_(False),
                model.consumes_quota.is_(True),
            )
            .group_by(model.volume_type_id)
        )
        for type_id, number, gigabytes in rows.tuples():
            name = names.get(type_id or "")
            if name is not None:
                out[f"{kind}_{name}"] += int(number)
                out[f"gigabytes_{name}"] += int(gigabytes)
    return out


def per_type(kind: str, items: Iterable[tuple[str, int]]) -> dict[str, dict[str, int]]:
    """{type id: {kind: count, "gigabytes": total}} of (type id, size) pairs."""
    out: dict[str, dict[str, int]] = {}
    for type_id, size in items:
        entry = out.setdefault(type_id, {kind: 0, "gigabytes": 0})
        entry[kind] += 1
        entry["gigabytes"] += size
    return out


_WORDS = {
    "gigabytes": "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed"
    " {k} quota. Requested {r}G, quota is {a}G and {u}G has been consumed.",
    "volumes": "VolumeLimitExceeded: Maximum number of volumes allowed ({a}) exceeded for quota"
    " '{k}'.",
    "snapshots": "SnapshotLimitExceeded: Maximum number of snapshots allowed ({a}) exceeded.",
    "backups": "BackupLimitExceeded: Maximum number of backups allowed ({a}) exceeded.",
    "backup_gigabytes": "VolumeBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed"
    " Backup gigabytes quota. Requested {r}G, quota is {a}G and {u}G has been consumed.",
    "groups": "GroupLimitExceeded: Maximum number of groups allowed ({a}) exceeded.",
}


async def reserve(
    session: AsyncSession,
    settings: VolumeSettings,
    project_id: str,
    deltas: Mapping[str, int],
    per_type: PerType | None = None,
    hard: Mapping[str, int] | None = None,
) -> None:
    """Check that `project_id` may grow by `deltas` (e.g. {"volumes": 1, "gigabytes": 10}) and,
    per volume type, by `per_type`; raise OverQuota (413) in Cinder's words otherwise. Nothing
    is recorded: once the rows exist they are the usage. Call it first in the transaction that
    writes them. `hard`: the project's limits when the caller has just read them."""
    wanted = {k: int(v) for k, v in deltas.items() if int(v) > 0}
    if not wanted and not any(v > 0 for a in (per_type or {}).values() for v in a.values()):
        return
    await locks.bump(session, ProjectLock, "project_id", project_id, "generation")
    if hard is None:
        hard = await limits(session, settings, project_id)
    typed_limits = any(k not in RESOURCES and v >= 0 for k, v in hard.items())
    if per_type and typed_limits:  # no type is limited: nothing to count per type
        names = await type_names(session)
        for type_id, amounts in per_type.items():
            for kind, amount in amounts.items():
                if type_id in names and amount > 0:
                    wanted[f"{kind}_{names[type_id]}"] = amount
    # Per-type usage costs two more queries: only when one of the wanted types is limited.
    typed = any(k not in RESOURCES and hard.get(k, UNLIMITED) >= 0 for k in wanted)
    if all(hard.get(k, UNLIMITED) < 0 for k in wanted):
        return  # nothing asked for is limited
    used = await usage(session, project_id, typed=typed)
    order = ("gigabytes", "backup_gigabytes", "volumes", "snapshots", "backups", "groups")
    for resource, amount in sorted(wanted.items(), key=lambda kv: _rank(order, kv[0])):
        allowed = hard.get(resource, UNLIMITED)
        if 0 <= allowed < used.get(resource, 0) + amount:
            kind = resource if resource in _WORDS else resource.partition("_")[0]
            raise OverQuota(
                _WORDS[kind].format(k=resource, r=amount, a=allowed, u=used.get(resource, 0))
            )


def _rank(order: tuple[str, ...], resource: str) -> int:
    return order.index(resource) if resource in order else len(order)


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
