"""The agent's work with the image service and with data already on the back end: upload a
volume to an image, re-image a volume, adopt (manage) an existing file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from overcast.common import errors, log
from overcast.common.db.base import utcnow
from overcast.volume import messages, outcomes
from overcast.volume.agent import compute_events, refs
from overcast.volume.models.volumes import Volume

if TYPE_CHECKING:
    from overcast.volume.agent.backend import Backend

LOG = log.get(__name__)


async def upload(
    backend: Backend, ctx: dict[str, Any], volume_id: str, image_id: str, disk_format: str
) -> None:
    """Write the volume into the (queued) image `image_id`; the volume goes back to the
    status it had (`available` or `in-use`). On failure the image is deleted."""
    async with backend.db.reader() as session:
        volume = await session.get(Volume, volume_id)
    if volume is None or volume.status != "uploading":
        return
    client = backend.images(ctx)
    tmp = backend.work_dir / f".upload-{image_id}.tmp"
    failed = False
    try:
        fmt = disk_format if disk_format in ("raw", "qcow2") else "raw"
        await backend.driver.copy_volume_to_image(refs.volume(volume), tmp, fmt)
        await client.upload(image_id, tmp)
    except Exception as exc:  # noqa: BLE001
        LOG.warning("upload of volume %s failed: %s", volume_id, exc)
        failed = True
        try:
            await client.delete(image_id)
        except errors.OvercastError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    async with backend.db.session() as session:
        row = await session.get(Volume, volume_id)
        if row is None or row.status != "uploading":
            return
        row.status = str(row.task.get("then") or "available")
        row.task = {}
        row.updated_at = utcnow()
        if failed:
            outcomes.message(
                session,
                row.project_id,
                "VOLUME",
                row.id,
                messages.COPY_VOLUME_TO_IMAGE,
                messages.UPLOAD_FAILED,
                ctx,
            )


async def reimage(backend: Backend, ctx: dict[str, Any], volume_id: str, image_id: str) -> None:
    """Write the image over the volume; it takes the image's metadata and goes back to the
    status it had. The servers holding it (compute keeps a reserved attachment while it
    rebuilds a volume-backed server) hear `volume-reimaged`: `failed` when the copy failed
    (the volume then in `error`), as Nova waits for the event either way."""
    async with backend.db.reader() as session:
        volume = await session.get(Volume, volume_id)
        if volume is None or volume.status != "downloading":
            return
        servers = await compute_events.servers(session, volume)
    try:
        await backend.copy_image(ctx, refs.volume(volume), image_id)
    except Exception as exc:  # noqa: BLE001
        LOG.warning("re-image of volume %s failed: %s", volume_id, exc)
        async with backend.db.session() as session:
            row = await session.get(Volume, volume_id)
            if row is not None:
                outcomes.volume_failed(
                    session, row, action=messages.REIMAGE, detail=messages.UNKNOWN, ctx=ctx
                )
        if servers:
            await compute_events.send(backend, "volume-reimaged", volume_id, servers, "failed")
        return
    async with backend.db.session() as session:
        row = await session.get(Volume, volume_id)
        if row is not None and row.status == "downloading":
            row.status = str(row.task.get("then") or "available")
            row.image_id = image_id
            row.image_metadata = dict(row.task.get("image_metadata") or row.image_metadata or {})
            row.bootable = True
            row.task = {}
            row.updated_at = utcnow()
    if servers:
        await compute_events.send(backend, "volume-reimaged", volume_id, servers)


async def manage(
    backend: Backend, ctx: dict[str, Any], volume_id: str, reference: dict[str, Any]
) -> None:
    async with backend.db.reader() as session:
        volume = await session.get(Volume, volume_id)
    if volume is None or volume.status != "creating":
        return
    try:
        location, size = await backend.driver.manage_existing(refs.volume(volume), reference)
    except Exception as exc:  # noqa: BLE001
        LOG.warning("manage of volume %s failed: %s", volume_id, exc)
        async with backend.db.session() as session:
            row = await session.get(Volume, volume_id)
            if row is not None:
                outcomes.volume_failed(
                    session,
                    row,
                    action=messages.CREATE_FROM_BACKEND,
                    detail=messages.DRIVER_CREATE,
                    ctx=ctx,
                    status="error_managing",
                )
        return
    async with backend.db.session() as session:
        row = await session.get(Volume, volume_id)
        if row is not None and row.status == "creating":
            row.provider_location, row.size = location, size
            row.status = "available"
            row.launched_at = row.updated_at = utcnow()
