"""Groups on the agent of their back end, done generically as Cinder's volume manager does for
a driver without group support: each member volume or snapshot goes through the same steps as
a single one (`Backend.create_volume`, `snapshots.create`, ...), then the group takes the
outcome: `available` when every member made it, `error` otherwise."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from overcast.common.db.base import utcnow
from overcast.volume.agent import snapshots
from overcast.volume.models.groups import Group, GroupSnapshot
from overcast.volume.models.volumes import Snapshot, Volume

if TYPE_CHECKING:
    from overcast.volume.agent.backend import Backend


async def recover(backend: Backend) -> None:
    """After a crash: this back end's groups and group snapshots end their `-ing` state.
    Their member volumes and snapshots were put right first (`reconcile.recover`), so a
    group being made or deleted is settled from them, and deletes are finished."""
    ctx: dict[str, Any] = {}
    async with backend.db.reader() as session:
        rows = await session.execute(
            select(Group.id, Group.status).where(
                Group.host.like(f"{backend.host}#%"), Group.deleted.is_(False)
            )
        )
        found = list(rows.tuples())
        gsnaps = await session.execute(
            select(GroupSnapshot.id, GroupSnapshot.status).where(
                GroupSnapshot.group_id.in_([g for g, _ in found]),
                GroupSnapshot.deleted.is_(False),
            )
        )
        snaps = list(gsnaps.tuples())
    for group_id, status in found:
        if status == "creating":
            await _settle(backend, group_id, "creating")
        elif status == "deleting":
            await delete(backend, ctx, group_id)
    for gsnap_id, status in snaps:
        if status == "creating":
            await create_snapshot(backend, ctx, gsnap_id)
        elif status == "deleting":
            await delete_snapshot(backend, ctx, gsnap_id)


async def _volume_ids(backend: Backend, group_id: str, status: str) -> list[str]:
    async with backend.db.reader() as session:
        rows = await session.execute(
            select(Volume.id).where(
                Volume.group_id == group_id, Volume.status == status, Volume.deleted.is_(False)
            )
        )
        return list(rows.scalars())


async def _settle(backend: Backend, group_id: str, expected: str) -> None:
    """The group leaves `expected` for `available`, or `error` if a member failed."""
    async with backend.db.session() as session:
        group = await session.get(Group, group_id)
        if group is None or group.status != expected:
            return
        rows = await session.execute(
            select(Volume.status).where(Volume.group_id == group_id, Volume.deleted.is_(False))
        )
        failed = any(s.startswith("error") for s in rows.scalars())
        group.status = "error" if failed else "available"
        group.updated_at = utcnow()


async def create(backend: Backend, ctx: dict[str, Any], group_id: str) -> None:
    await _settle(backend, group_id, "creating")


async def create_from_source(backend: Backend, ctx: dict[str, Any], group_id: str) -> None:
    for volume_id in await _volume_ids(backend, group_id, "creating"):
        await backend.create_volume(ctx, volume_id)
    await _settle(backend, group_id, "creating")


async def delete(backend: Backend, ctx: dict[str, Any], group_id: str) -> None:
    for volume_id in await _volume_ids(backend, group_id, "deleting"):
        await backend.delete_volume(ctx, volume_id)
    async with backend.db.session() as session:
        group = await session.get(Group, group_id)
        if group is None or group.status != "deleting":
            return
        left = await session.scalar(
            select(Volume.id).where(Volume.group_id == group_id, Volume.deleted.is_(False))
        )
        now = utcnow()
        if left is not None:
            group.status, group.updated_at = "error_deleting", now
        else:
            group.status, group.deleted, group.deleted_at = "deleted", True, now


async def _snapshot_ids(backend: Backend, group_snapshot_id: str) -> list[str]:
    async with backend.db.reader() as session:
        rows = await session.execute(
            select(Snapshot.id).where(
                Snapshot.group_snapshot_id == group_snapshot_id, Snapshot.deleted.is_(False)
            )
        )
        return list(rows.scalars())


async def create_snapshot(backend: Backend, ctx: dict[str, Any], group_snapshot_id: str) -> None:
    ids = await _snapshot_ids(backend, group_snapshot_id)
    for snapshot_id in ids:
        await snapshots.create(backend, ctx, snapshot_id)
    async with backend.db.session() as session:
        gsnap = await session.get(GroupSnapshot, group_snapshot_id)
        if gsnap is None or gsnap.status != "creating":
            return
        rows = await session.execute(select(Snapshot.status).where(Snapshot.id.in_(ids)))
        gsnap.status = "available" if all(s == "available" for s in rows.scalars()) else "error"
        gsnap.updated_at = utcnow()


async def delete_snapshot(backend: Backend, ctx: dict[str, Any], group_snapshot_id: str) -> None:
    for snapshot_id in await _snapshot_ids(backend, group_snapshot_id):
        await snapshots.delete(backend, ctx, snapshot_id)
    async with backend.db.session() as session:
        gsnap = await session.get(GroupSnapshot, group_snapshot_id)
        if gsnap is None or gsnap.status != "deleting":
            return
        left = await session.scalar(
            select(Snapshot.id).where(
                Snapshot.group_snapshot_id == group_snapshot_id, Snapshot.deleted.is_(False)
            )
        )
        now = utcnow()
        if left is not None:
            gsnap.status, gsnap.updated_at = "error_deleting", now
        else:
            gsnap.status, gsnap.deleted, gsnap.deleted_at = "deleted", True, now
