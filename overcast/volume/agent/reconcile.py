"""What a back end's agent puts right when it starts, after a crash: nothing stays in a `-ing`
state. Interrupted creates (volumes, snapshots, backups) end in `error` with a message and
their partial data removed, their quota returned; interrupted deletes, extends and reverts are finished;
an interrupted migration ends in `error` where the volume was, its temporary volume deleted;
attach, detach, backup and upload states go back to what the volume's attachments say."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from overcast.common import log
from overcast.common.db.base import utcnow
from overcast.volume import messages, outcomes
from overcast.volume.agent import attached, groups, migration, refs
from overcast.volume.models.backups import Backup
from overcast.volume.models.volumes import Attachment, Snapshot, Volume

if TYPE_CHECKING:
    from overcast.volume.agent.backend import Backend

LOG = log.get(__name__)


async def recover(backend: Backend) -> None:
    ctx: dict[str, str] = {}
    finish_deletes: list[str] = []
    finish_extends: list[tuple[str, int]] = []
    finish_reverts: list[tuple[str, str]] = []
    finish_snap_deletes: list[str] = []
    finish_backup_deletes: list[str] = []
    async with backend.db.session() as session:
        rows = await session.execute(
            select(Volume).where(Volume.host.like(f"{backend.host}#%"), Volume.deleted.is_(False))
        )
        volumes = list(rows.scalars())
        for volume in volumes:
            status = volume.status
            if await _abandoned_target(session, volume):
                # A migration's temporary volume no server took: it goes.
                volume.status = "deleting"
                finish_deletes.append(volume.id)
            elif volume.migration_status in migration.IN_PROGRESS:
                # The row moves only when the copy is whole: the volume is still here.
                outcomes.migration_failed(session, volume, ctx)
            elif status in ("creating", "downloading"):
                await _quietly(backend.driver.delete_volume(refs.volume(volume)))
                outcomes.volume_failed(
                    session,
                    volume,
                    action=messages.CREATE_FROM_BACKEND,
                    detail=messages.INTERRUPTED,
                    ctx=ctx,
                )
            elif status == "deleting":
                finish_deletes.append(volume.id)
            elif status == "extending":
                finish_extends.append((volume.id, volume.size))
            elif status == "reverting":
                finish_reverts.append((volume.id, str(volume.task.get("revert_to"))))
            elif status in ("attaching", "detaching", "reserved"):
                volume.status = await _attached_status(session, volume)
            elif status in ("uploading", "backing-up"):
                volume.status = str(
                    volume.task.get("then") or volume.previous_status or "available"
                )
                volume.task = {}
                if status == "uploading":
                    outcomes.message(
                        session,
                        volume.project_id,
                        "VOLUME",
                        volume.id,
                        messages.COPY_VOLUME_TO_IMAGE,
                        messages.INTERRUPTED,
                        ctx,
                    )
            elif status == "restoring-backup":
                outcomes.volume_failed(
                    session,
                    volume,
                    action=messages.BACKUP_RESTORE,
                    detail=messages.INTERRUPTED,
                    ctx=ctx,
                    status="error_restoring",
                )
            else:
                continue
            LOG.info("recovered volume %s from %s to %s", volume.id, status, volume.status)
        ids = [v.id for v in volumes]
        snaps = await session.execute(
            select(Snapshot).where(Snapshot.volume_id.in_(ids), Snapshot.deleted.is_(False))
        )
        for snap in snaps.scalars():
            if snap.status == "creating":
                await _quietly(backend.driver.delete_snapshot(refs.snapshot(snap)))
                outcomes.snapshot_failed(
                    session,
                    snap,
                    action=messages.SNAPSHOT_CREATE,
                    detail=messages.INTERRUPTED,
                    ctx=ctx,
                )
            elif snap.status == "deleting":
                finish_snap_deletes.append(snap.id)
        backups = await session.execute(
            select(Backup).where(Backup.volume_id.in_(ids), Backup.deleted.is_(False))
        )
        for backup in backups.scalars():
            if backup.status == "creating":
                await _quietly(
                    backend.backups.delete(backup.container or "", f"backup-{backup.id}")
                )
                outcomes.backup_failed(
                    session,
                    backup,
                    action=messages.BACKUP_CREATE,
                    detail=messages.INTERRUPTED,
                    reason="The backup was interrupted.",
                    ctx=ctx,
                )
            elif backup.status == "restoring":
                backup.status = "available"
            elif backup.status == "deleting":
                finish_backup_deletes.append(backup.id)
    for volume_id in finish_deletes:
        await backend.delete_volume(ctx, volume_id)
    for volume_id, size in finish_extends:
        await backend.extend_volume(ctx, volume_id, size)
    for volume_id, snapshot_id in finish_reverts:
        await backend.revert_to_snapshot(ctx, volume_id, snapshot_id)
    for snapshot_id in finish_snap_deletes:
        await backend.delete_snapshot(ctx, snapshot_id)
    for backup_id in finish_backup_deletes:
        await backend.delete_backup(ctx, backup_id)
    await groups.recover(backend)


async def _abandoned_target(session: object, volume: Volume) -> bool:
    """A temporary volume of a migration that no server was connected to. One compute had
    begun to connect is kept (and shown as it is): the guest may already write to it."""
    temporary = str(volume.migration_status or "").startswith(attached.TARGET)
    if not temporary or volume.status == "deleting":
        return False
    rows = await session.execute(  # type: ignore[attr-defined]
        select(Attachment.id).where(
            Attachment.volume_id == volume.id, Attachment.deleted.is_(False)
        )
    )
    return rows.first() is None


async def _attached_status(session: object, volume: Volume) -> str:
    rows = await session.execute(  # type: ignore[attr-defined]
        select(Attachment).where(
            Attachment.volume_id == volume.id,
            Attachment.deleted.is_(False),
            Attachment.attach_status == "attached",
        )
    )
    attached = rows.scalars().first() is not None
    volume.attach_status = "attached" if attached else "detached"
    volume.updated_at = utcnow()
    return "in-use" if attached else "available"


async def _quietly(operation: object) -> None:
    try:
        await operation  # type: ignore[misc]
    except Exception as exc:  # noqa: BLE001 - best effort clean-up of partial data
        LOG.warning("clean-up after a crash failed: %s", exc)
