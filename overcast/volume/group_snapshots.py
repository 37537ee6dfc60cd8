"""Group snapshots (Cinder 3.14+) and groups made from a group snapshot or another group, as
the API side handles them: checks, quota and the rows in their starting states. The caller
casts to the group's back end, whose agent (`agent.groups`) makes the data.
Called by `api.group_snapshots` and `api.groups`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.volume import groups, lookup, quotas
from overcast.volume.models.groups import Group, GroupSnapshot
from overcast.volume.models.volumes import Snapshot, Volume
from overcast.volume.state import VolumeState

STATUSES = ("available", "error", "creating", "deleting", "error_deleting")


def not_found(group_snapshot_id: str) -> errors.NotFound:
    return errors.NotFound(f"GroupSnapshot {group_snapshot_id} could not be found.")


async def get(
    session: AsyncSession, group_snapshot_id: str, project_id: str, admin: bool
) -> GroupSnapshot:
    return await lookup.owned(
        session, GroupSnapshot, group_snapshot_id, project_id, admin, not_found
    )


async def snapshots_of(session: AsyncSession, group_snapshot_id: str) -> list[Snapshot]:
    rows = await session.execute(
        select(Snapshot).where(
            Snapshot.group_snapshot_id == group_snapshot_id, Snapshot.deleted.is_(False)
        )
    )
    return list(rows.scalars())


async def create(
    state: VolumeState,
    session: AsyncSession,
    ctx: dict[str, Any],
    group: Group,
    *,
    name: str | None,
    description: str | None,
) -> GroupSnapshot:
    """A group snapshot in `creating` with one snapshot per volume of the group, counted
    against the snapshot and gigabyte quotas together."""
    if group.status != "available":
        raise errors.BadRequest(
            f"Invalid group: Group {group.id} status must be available, but current status is:"
            f" {group.status}."
        )
    vols = await groups.members(session, group.id)
    for volume in vols:
        if volume.status not in ("available", "in-use"):
            raise errors.BadRequest(
                f"Invalid volume: Volume {volume.id} in group {group.id} is {volume.status};"
                " it must be available or in-use."
            )
    await quotas.reserve(
        session,
        state.settings.volume,
        group.project_id,
        {"snapshots": len(vols), "gigabytes": sum(v.size for v in vols)},
        quotas.per_type("snapshots", [(v.volume_type_id, v.size) for v in vols]),
    )
    now = utcnow()
    gsnap = GroupSnapshot(
        group_id=group.id,
        project_id=group.project_id,
        user_id=ctx["user_id"],
        name=name,
        description=description,
        status="creating",
        group_type_id=group.group_type_id,
        created_at=now,
    )
    session.add(gsnap)
    await session.flush()
    for volume in vols:
        session.add(
            Snapshot(
                volume_id=volume.id,
                project_id=volume.project_id,
                user_id=ctx["user_id"],
                name=f"snapshot-{gsnap.id}",
                description=description,
                status="creating",
                progress="0%",
                volume_size=volume.size,
                volume_type_id=volume.volume_type_id,
                metadata_={},
                group_snapshot_id=gsnap.id,
                created_at=now,
            )
        )
    return gsnap


async def start_delete(session: AsyncSession, gsnap: GroupSnapshot) -> None:
    if gsnap.status not in ("available", "error"):
        raise errors.BadRequest(
            f"Invalid group snapshot: Group snapshot status must be available or error, but"
            f" current status is: {gsnap.status}"
        )
    child = await session.scalar(
        select(Group.id).where(
            Group.group_snapshot_id == gsnap.id,
            Group.deleted.is_(False),
            Group.status == "creating",
        )
    )
    if child is not None:
        raise errors.BadRequest(f"Invalid group snapshot: group {child} is being made from it.")
    now = utcnow()
    for snap in await snapshots_of(session, gsnap.id):
        snap.status = "deleting"
        snap.consumes_quota = False
        snap.updated_at = now
    gsnap.status = "deleting"
    gsnap.updated_at = now


async def create_from_source(
    state: VolumeState,
    session: AsyncSession,
    ctx: dict[str, Any],
    admin: bool,
    *,
    name: str | None,
    description: str | None,
    group_snapshot_id: str | None,
    source_group_id: str | None,
) -> Group:
    """A new group on its source's back end, with one volume (in `creating`) for each
    snapshot of the group snapshot or each volume of the source group."""
    project_id = ctx["project_id"]
    sources: list[tuple[Volume, Snapshot | None]] = []
    if group_snapshot_id is not None:
        gsnap = await get(session, group_snapshot_id, project_id, admin)
        if gsnap.status != "available":
            raise errors.BadRequest(
                f"Invalid group snapshot: Group snapshot {gsnap.id} status must be available."
            )
        origin = await session.get(Group, gsnap.group_id)
        if origin is None:
            raise not_found(group_snapshot_id)
        for member in await snapshots_of(session, gsnap.id):
            volume = await session.get(Volume, member.volume_id)
            assert volume is not None
            sources.append((volume, member))
    else:
        assert source_group_id is not None
        origin = await groups.get(session, source_group_id, project_id, admin)
        if origin.status != "available":
            raise errors.BadRequest(
                f"Invalid group: Source group {origin.id} status must be available, but current"
                f" status is: {origin.status}."
            )
        sources = [(v, None) for v in await groups.members(session, origin.id)]
        for volume, _ in sources:
            if volume.status not in ("available", "in-use"):
                raise errors.BadRequest(f"Invalid volume: Source volume {volume.id} is busy.")
    await quotas.reserve(
        session,
        state.settings.volume,
        project_id,
        {"groups": 1, "volumes": len(sources), "gigabytes": sum(v.size for v, _ in sources)},
        quotas.per_type("volumes", [(v.volume_type_id, v.size) for v, _ in sources]),
    )
    now = utcnow()
    group = Group(
        project_id=project_id,
        user_id=ctx["user_id"],
        name=name,
        description=description,
        status="creating",
        availability_zone=origin.availability_zone,
        group_type_id=origin.group_type_id,
        volume_type_ids=list(origin.volume_type_ids or []),
        host=origin.host,
        group_snapshot_id=group_snapshot_id,
        source_group_id=source_group_id,
        created_at=now,
    )
    session.add(group)
    await session.flush()
    for volume, snap in sources:
        session.add(
            Volume(
                project_id=project_id,
                user_id=ctx["user_id"],
                name=volume.name,
                description=volume.description,
                size=snap.volume_size if snap else volume.size,
                status="creating",
                availability_zone=origin.availability_zone,
                volume_type_id=volume.volume_type_id,
                host=volume.host,
                multiattach=volume.multiattach,
                metadata_={},
                snapshot_id=snap.id if snap else None,
                source_volid=None if snap else volume.id,
                bootable=volume.bootable,
                group_id=group.id,
                attempted=[],
                task={},
                created_at=now,
            )
        )
    return group
