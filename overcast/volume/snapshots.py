"""Snapshots as the API side handles them: lookup, create (quota, then a cast to the volume's
agent) and delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.volume import lookup, quotas
from overcast.volume.models.volumes import Snapshot, Volume
from overcast.volume.state import VolumeState


def not_found(snapshot_id: str) -> errors.NotFound:
    return errors.NotFound(f"Snapshot {snapshot_id} could not be found.")


async def get(session: AsyncSession, snapshot_id: str, project_id: str, admin: bool) -> Snapshot:
    return await lookup.owned(session, Snapshot, snapshot_id, project_id, admin, not_found)


async def create(
    state: VolumeState,
    session: AsyncSession,
    ctx: dict[str, Any],
    volume: Volume,
    *,
    name: str | None,
    description: str | None,
    metadata: dict[str, str],
    force: bool,
    in_use_ok: bool,
) -> Snapshot:
    """Record a snapshot in `creating` (counted against quota); the caller casts to the agent."""
    allowed = ("available", "in-use") if (force or in_use_ok) else ("available",)
    if volume.status not in allowed:
        raise errors.BadRequest(
            f"Invalid volume: Volume {volume.id} status must be {' or '.join(allowed)}, but"
            f" current status is: {volume.status}."
        )
    if volume.migration_status not in (None, "", "success", "error"):
        raise errors.BadRequest(f"Invalid volume: Volume {volume.id} is migrating.")
    await quotas.reserve(
        session,
        state.settings.volume,
        ctx["project_id"],
        {"snapshots": 1, "gigabytes": volume.size},
        quotas.per_type("snapshots", [(volume.volume_type_id, volume.size)]),
    )
    snap = Snapshot(
        volume_id=volume.id,
        project_id=volume.project_id,
        user_id=ctx["user_id"],
        name=name,
        description=description,
        status="creating",
        progress="0%",
        volume_size=volume.size,
        volume_type_id=volume.volume_type_id,
        metadata_=metadata,
        created_at=utcnow(),
    )
    session.add(snap)
    await session.flush()
    return snap


async def start_delete(session: AsyncSession, snap: Snapshot, force: bool = False) -> None:
    allowed = ("available", "error", "error_deleting")
    if not force and snap.status not in allowed:
        raise errors.BadRequest(
            f"Invalid snapshot: Snapshot {snap.id} status must be available or error, but"
            f" current status is: {snap.status}."
        )
    if snap.group_snapshot_id and not force:
        raise errors.BadRequest(
            f"Invalid snapshot: Snapshot {snap.id} is part of group snapshot"
            f" {snap.group_snapshot_id}; delete the group snapshot instead."
        )
    children = await session.scalar(
        select(Volume.id).where(
            Volume.snapshot_id == snap.id, Volume.deleted.is_(False), Volume.status == "creating"
        )
    )
    if children is not None:
        raise errors.BadRequest(
            f"Invalid snapshot: a volume is being made from snapshot {snap.id}."
        )
    snap.status = "deleting"
    snap.consumes_quota = False
    snap.updated_at = utcnow()
