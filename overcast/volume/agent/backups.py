"""Backups on the agent that holds the volume: the volume's raw data cut into chunks, each
stored as an object by the backup driver unless it is all zeros or (incremental) unchanged
since the parent backup; a manifest lists, per chunk, which backup holds it and its digest.
Restores write the chain's chunks back into a volume. Used by `backend.Backend`.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import os
from typing import TYPE_CHECKING, Any

from overcast.common import errors, log
from overcast.common.db.base import utcnow
from overcast.volume import messages, outcomes
from overcast.volume.agent import refs
from overcast.volume.drivers import GiB
from overcast.volume.models.backups import Backup
from overcast.volume.models.volumes import Snapshot, Volume

if TYPE_CHECKING:
    from overcast.volume.agent.backend import Backend

LOG = log.get(__name__)
RESTORE_AHEAD = 2  # chunks fetched and verified ahead of the one being written


def chunk_name(backup_id: str, index: int) -> str:
    return f"backup-{backup_id}/chunk-{index:06d}"


def manifest_name(backup_id: str) -> str:
    return f"backup-{backup_id}/manifest.json"


def _read_one(handle: Any, offset: int, chunk_size: int) -> tuple[bytes, str | None]:
    """The chunk at `offset` and its digest; None for a chunk of zeros. Holes of a sparse
    file are skipped without reading them (SEEK_DATA)."""
    fd = handle.fileno()
    try:
        if os.lseek(fd, offset, os.SEEK_DATA) >= offset + chunk_size:
            return b"", None
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # nothing but a hole after `offset`
            return b"", None
        # the file system cannot tell holes: read it all
    data = os.pread(fd, chunk_size, offset)
    if not data.strip(b"\0"):
        return data, None
    return data, hashlib.sha256(data).hexdigest()


async def create(backend: Backend, ctx: dict[str, Any], backup_id: str) -> None:
    async with backend.db.reader() as session:
        backup = await session.get(Backup, backup_id)
        if backup is None or backup.status != "creating":
            return
        volume = await session.get(Volume, backup.volume_id)
        snap = await session.get(Snapshot, backup.snapshot_id) if backup.snapshot_id else None
        parent = await session.get(Backup, backup.parent_id) if backup.parent_id else None
    driver = backend.backups
    chunk_size = backend.settings.volume.backup_chunk_size
    previous = (parent.manifest or {}).get("chunks", []) if parent is not None else []
    try:
        if volume is None:
            raise errors.NotFound(f"Volume {backup.volume_id} is gone.")
        source = refs.volume(volume)
        if snap is not None:  # a backup of a snapshot reads a clone of it
            source = await _snapshot_view(backend, snap)
        chunks: list[list[str] | None] = []
        stored = 0
        try:
            async with backend.driver.open_raw(source) as raw:
                handle = await asyncio.to_thread(raw.open, "rb")
                writes: list[asyncio.Task[None]] = []
                try:
                    size = os.fstat(handle.fileno()).st_size
                    for index in range(-(-size // chunk_size)):
                        data, digest = await asyncio.to_thread(
                            _read_one, handle, index * chunk_size, chunk_size
                        )
                        if digest is None:
                            chunks.append(None)
                            continue
                        old = previous[index] if index < len(previous) else None
                        if old is not None and old[1] == digest:
                            chunks.append(old)
                            continue
                        # The next chunk is read while this one is written (two in flight).
                        if len(writes) >= 2:
                            await writes.pop(0)
                        writes.append(
                            asyncio.create_task(
                                driver.put(
                                    backup.container or "", chunk_name(backup_id, index), data
                                )
                            )
                        )
                        chunks.append([backup_id, digest])
                        stored += 1
                    await asyncio.gather(*writes)
                finally:
                    for task in writes:
                        task.cancel()
                    handle.close()
        finally:
            if snap is not None:
                await backend.driver.delete_volume(source)
        manifest = {
            "chunk_size": chunk_size,
            "size_bytes": size,
            "chunks": chunks,
            # Restored with the data, as Cinder's backups keep a volume's metadata.
            "volume_metadata": dict(volume.metadata_ or {}) if volume is not None else {},
        }
        await driver.put(
            backup.container or "", manifest_name(backup_id), json.dumps(manifest).encode()
        )
    except Exception as exc:  # noqa: BLE001 - every failure ends the same way
        LOG.warning("backup %s failed: %s", backup_id, exc)
        async with backend.db.session() as session:
            row = await session.get(Backup, backup_id)
            if row is not None:
                outcomes.backup_failed(
                    session,
                    row,
                    action=messages.BACKUP_CREATE,
                    detail=messages.BACKUP_DRIVER_CREATE,
                    reason=str(exc),
                    ctx=ctx,
                )
            await _volume_back(session, backup.volume_id)
        return
    async with backend.db.session() as session:
        row = await session.get(Backup, backup_id)
        if row is not None and row.status == "creating":
            row.manifest = manifest
            row.object_count = stored
            row.status = "available"
            row.updated_at = utcnow()
        await _volume_back(session, backup.volume_id)


async def _snapshot_view(backend: Backend, snap: Snapshot) -> Any:
    from overcast.volume.drivers import VolumeRef

    view = VolumeRef(f"backup-view-{snap.id}", snap.volume_size)
    await backend.driver.create_volume_from_snapshot(view, refs.snapshot(snap))
    return view


async def _volume_back(session: Any, volume_id: str) -> None:
    """The volume leaves `backing-up` for the status it had."""
    volume = await session.get(Volume, volume_id)
    if volume is not None and volume.status == "backing-up":
        volume.status = volume.previous_status or "available"
        volume.updated_at = utcnow()


async def _chain(backend: Backend, backup: Backup) -> dict[str, Any]:
    manifest = backup.manifest or {}
    if not manifest:
        raw = await backend.backups.get(backup.container or "", manifest_name(backup.id))
        manifest = json.loads(raw)
    return manifest


async def restore_into(
    backend: Backend, ctx: dict[str, Any], backup_id: str, volume_id: str
) -> None:
    """Write backup `backup_id` into volume `volume_id` (which exists on this back end)."""
    async with backend.db.reader() as session:
        backup = await session.get(Backup, backup_id)
        volume = await session.get(Volume, volume_id)
    if backup is None or volume is None:
        raise errors.NotFound("The backup or the volume to restore into is gone.")
    manifest = await _chain(backend, backup)
    chunk_size = int(manifest["chunk_size"])
    async with backend.driver.open_raw(refs.volume(volume), write=True) as raw:
        handle = await asyncio.to_thread(raw.open, "r+b")
        try:
            await asyncio.to_thread(handle.truncate, 0)
            await asyncio.to_thread(handle.truncate, volume.size * GiB)
            # The next chunks are fetched and verified while this one is written.
            fetches: list[tuple[int, asyncio.Task[bytes]]] = []
            try:
                for index, entry in enumerate(manifest["chunks"]):
                    if entry is None:
                        continue
                    task = asyncio.create_task(_fetch(backend, backup.container, index, entry))
                    fetches.append((index, task))
                    if len(fetches) > RESTORE_AHEAD:
                        await _write_next(fetches, handle, chunk_size)
                while fetches:
                    await _write_next(fetches, handle, chunk_size)
            finally:
                for _, task in fetches:
                    task.cancel()
            await asyncio.to_thread(os.fsync, handle.fileno())
        finally:
            handle.close()
    saved = manifest.get("volume_metadata") or {}
    if saved:  # the volume's metadata when it was backed up comes back with its data
        async with backend.db.session() as session:
            row = await session.get(Volume, volume_id)
            if row is not None:
                row.metadata_ = {**(row.metadata_ or {}), **saved}


async def _fetch(backend: Backend, container: str | None, index: int, entry: list[str]) -> bytes:
    """Chunk `index` as backup `entry[0]` stored it, its digest checked (off the event loop)."""
    data = await backend.backups.get(container or "", chunk_name(entry[0], index))
    digest = await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
    if digest != entry[1]:
        raise errors.Conflict(f"Backup chunk {index} of {entry[0]} is corrupt.")
    return data


async def _write_next(
    fetches: list[tuple[int, asyncio.Task[bytes]]], handle: Any, chunk_size: int
) -> None:
    index, task = fetches.pop(0)
    data = await task
    await asyncio.to_thread(_write_at, handle, index * chunk_size, data)


def _write_at(handle: Any, offset: int, data: bytes) -> None:
    handle.seek(offset)
    handle.write(data)


async def restore(backend: Backend, ctx: dict[str, Any], backup_id: str, volume_id: str) -> None:
    try:
        await restore_into(backend, ctx, backup_id, volume_id)
    except Exception as exc:  # noqa: BLE001
        LOG.warning("restore of backup %s failed: %s", backup_id, exc)
        async with backend.db.session() as session:
            volume = await session.get(Volume, volume_id)
            if volume is not None:
                outcomes.volume_failed(
                    session,
                    volume,
                    action=messages.BACKUP_RESTORE,
                    detail=messages.BACKUP_DRIVER_RESTORE,
                    ctx=ctx,
                    status="error_restoring",
                )
            row = await session.get(Backup, backup_id)
            if row is not None and row.status == "restoring":
                row.status = "available"
        return
    async with backend.db.session() as session:
        volume = await session.get(Volume, volume_id)
        row = await session.get(Backup, backup_id)
        if volume is not None and volume.status == "restoring-backup":
            volume.status = "available"
            volume.updated_at = utcnow()
        if row is not None and row.status == "restoring":
            row.status = "available"


async def delete(backend: Backend, ctx: dict[str, Any], backup_id: str) -> None:
    async with backend.db.reader() as session:
        backup = await session.get(Backup, backup_id)
    if backup is None or backup.status != "deleting":
        return
    try:
        await backend.backups.delete(backup.container or "", f"backup-{backup_id}")
    except Exception as exc:  # noqa: BLE001
        async with backend.db.session() as session:
            row = await session.get(Backup, backup_id)
            if row is not None:
                outcomes.backup_failed(
                    session,
                    row,
                    action=messages.BACKUP_DELETE,
                    detail=messages.BACKUP_DRIVER_DELETE,
                    reason=str(exc),
                    ctx=ctx,
                    status="error_deleting",
                )
        return
    async with backend.db.session() as session:
        row = await session.get(Backup, backup_id)
        if row is not None:
            row.status, row.deleted, row.deleted_at = "deleted", True, utcnow()


async def verify(backend: Backend, ctx: dict[str, Any], backup_id: str) -> None:
    """An imported record becomes `available` once every object it names is in the store."""
    async with backend.db.reader() as session:
        backup = await session.get(Backup, backup_id)
    if backup is None or backup.status != "creating":
        return
    container = backup.container or ""
    chunks = (backup.manifest or {}).get("chunks", [])
    missing = [
        i
        for i, entry in enumerate(chunks)
        if entry is not None
        and not await backend.backups.exists(container, chunk_name(entry[0], i))
    ]
    async with backend.db.session() as session:
        row = await session.get(Backup, backup_id)
        if row is None or row.status != "creating":
            return
        if missing:
            outcomes.backup_failed(
                session,
                row,
                action=messages.BACKUP_RESTORE,
                detail=messages.BACKUP_DRIVER_RESTORE,
                reason=f"{len(missing)} objects of the backup are missing from the store.",
                ctx=ctx,
            )
        else:
            row.status = "available"
            row.updated_at = utcnow()
