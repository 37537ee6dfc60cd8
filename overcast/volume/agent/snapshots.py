"""Snapshots on the agent: made and removed by the driver; failures end in `error` or
`error_deleting` with a user message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from overcast.common import log
from overcast.common.db.base import utcnow
from overcast.volume import messages, outcomes
from overcast.volume.agent import refs
from overcast.volume.models.volumes import Snapshot, Volume

if TYPE_CHECKING:
    from overcast.volume.agent.backend import Backend

LOG = log.get(__name__)


async def create(backend: Backend, ctx: dict[str, Any], snapshot_id: str) -> None:
    async with backend.db.reader() as session:
        snap = await session.get(Snapshot, snapshot_id)
        volume = await session.get(Volume, snap.volume_id) if snap is not None else None
    if snap is None or volume is None or snap.status != "creating":
        return
    try:
        location = await backend.driver.create_snapshot(refs.snapshot(snap), refs.volume(volume))
    except Exception as exc:  # noqa: BLE001 - every driver failure ends the same way
        LOG.warning("snapshot %s failed: %s", snapshot_id, exc)
        async with backend.db.session() as session:
            row = await session.get(Snapshot, snapshot_id)
            if row is not None and row.status == "creating":
                outcomes.snapshot_failed(
                    session,
                    row,
                    action=messages.SNAPSHOT_CREATE,
                    detail=messages.DRIVER_SNAPSHOT_CREATE,
                    ctx=ctx,
                )
        return
    async with backend.db.session() as session:
        row = await session.get(Snapshot, snapshot_id)
        if row is not None and row.status == "creating":
            row.provider_location = location
            row.status = "available"
            row.progress = "100%"
            row.updated_at = utcnow()


async def delete(backend: Backend, ctx: dict[str, Any], snapshot_id: str) -> None:
    async with backend.db.reader() as session:
        snap = await session.get(Snapshot, snapshot_id)
    if snap is None or snap.deleted or snap.status != "deleting":
        return
    try:
        await backend.driver.delete_snapshot(refs.snapshot(snap))
    except Exception as exc:  # noqa: BLE001
        LOG.warning("snapshot delete %s failed: %s", snapshot_id, exc)
        async with backend.db.session() as session:
            row = await session.get(Snapshot, snapshot_id)
            if row is not None:
                outcomes.snapshot_failed(
                    session,
                    row,
                    action=messages.SNAPSHOT_DELETE,
                    detail=messages.DRIVER_SNAPSHOT_DELETE,
                    ctx=ctx,
                    status="error_deleting",
                )
        return
    async with backend.db.session() as session:
        row = await session.get(Snapshot, snapshot_id)
        if row is not None:
            row.status, row.deleted, row.deleted_at = "deleted", True, utcnow()
            row.consumes_quota = False


async def revert(backend: Backend, ctx: dict[str, Any], volume_id: str, snapshot_id: str) -> None:
    """The volume back to its latest snapshot (3.40); the volume is `reverting` and the
    snapshot `restoring` meanwhile. A failure leaves the volume `error` with a message."""
    async with backend.db.reader() as session:
        snap = await session.get(Snapshot, snapshot_id)
        volume = await session.get(Volume, volume_id)
    if snap is None or volume is None or volume.status != "reverting":
        return
    failed = False
    try:
        await backend.driver.revert_to_snapshot(refs.volume(volume), refs.snapshot(snap))
    except Exception as exc:  # noqa: BLE001
        LOG.warning("revert of %s to %s failed: %s", volume_id, snapshot_id, exc)
        failed = True
    async with backend.db.session() as session:
        row = await session.get(Volume, volume_id)
        snap_row = await session.get(Snapshot, snapshot_id)
        if snap_row is not None and snap_row.status == "restoring":
            snap_row.status = "available"
        if row is None or row.status != "reverting":
            return
        if failed:
            outcomes.volume_failed(
                session, row, action=messages.CREATE_FROM_BACKEND, detail=messages.UNKNOWN, ctx=ctx
            )
        else:
            row.status = "available"
            row.task = {}
            row.updated_at = utcnow()
