"""Image data in: upload (PUT /file) and staging (PUT /stage); `download` has the way out.

Each upload claims the image with a conditional UPDATE (queued -> saving), streams into a
store writer, verifies (size, format, safety) and only then commits the data and marks the
image active. Whatever goes wrong before that puts the image back to `queued`: nothing partial
is ever served, and the upload can be retried or the image deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable

from sqlalchemy import update

from overcast.common import errors, log, trace
from overcast.common.context import RequestContext
from overcast.common.db.base import utcnow
from overcast.image import formats, images, models, pipeline, quota
from overcast.image.state import ImageState

LOG = log.get(__name__)
Image = models.Image


async def claim(st: ImageState, image_id: str, before: str, after: str) -> bool:
    """Move `image_id` from status `before` to `after` if nobody else did; True if we did."""
    async with st.db.session() as session:
        stmt = (
            update(Image)
            .where(Image.id == image_id, Image.status == before, Image.deleted.is_(False))
            .values(status=after, busy_host=st.host, updated_at=utcnow())
        )
        result = await session.execute(stmt.execution_options(synchronize_session=False))
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def release(st: ImageState, image_id: str, before: str, after: str) -> None:
    """Undo a claim (the image was not deleted meanwhile). Survives cancellation."""

    async def _do() -> None:
        async with st.db.session() as session:
            stmt = (
                update(Image)
                .where(Image.id == image_id, Image.status == before)
                .values(status=after, busy_host=None, updated_at=utcnow())
            )
            await session.execute(stmt.execution_options(synchronize_session=False))

    await asyncio.shield(_do())


async def prepare(
    st: ImageState,
    ctx: RequestContext,
    image_id: str,
    size_hint: int | None,
    target: str,
    rule: str = "upload_image",
) -> tuple[models.Image, int | None]:
    """Check that data may be written to the image now (`rule` allowing), and claim it for
    `target`; returns it and the byte limit."""
    async with st.db.reader() as session:
        image = await images.load(session, st, ctx, image_id)
        await images.authorize(session, st, ctx, image, rule)
        if not image.disk_format or not image.container_format:
            raise errors.BadRequest(
                "Properties container_format, disk_format must be set prior to saving data."
            )
        if image.status != "queued":
            raise errors.Conflict(
                f"Image status transition from {image.status} to {target} is not allowed"
            )
        room = await quota.room(session, image.owner, st.limits) if image.owner else None
    cap = st.settings.image.max_image_size
    limit = cap if room is None else min(cap, room)
    if size_hint is not None and size_hint > limit:
        raise errors.OverQuota(
            f"Image data of {size_hint} bytes is over the {limit} bytes this image may store."
        )
    if not await claim(st, image_id, "queued", target):
        raise errors.Conflict(f"Image {image_id} is already receiving data.")
    return image, limit


def _check_size(expected: int | None, got: int) -> None:
    if expected is not None and expected != got:
        raise errors.BadRequest(
            f"Image data was {got} bytes but {expected} bytes were announced; nothing was stored."
        )


async def upload(
    st: ImageState,
    ctx: RequestContext,
    image_id: str,
    source: AsyncIterator[bytes],
    *,
    size_hint: int | None = None,
    store_name: str | None = None,
) -> None:
    store = st.stores.get(store_name)
    image, limit = await prepare(st, ctx, image_id, size_hint, "saving")
    trace.link("image", image_id, "upload", ctx.request_id, ctx.project_id)
    writer = None
    try:
        with trace.span("data stored", store=store.name) as step:
            writer = await store.writer(image_id)
            digest = pipeline.Digest(st.settings.image.hashing_algorithm)
            await pipeline.pump(source, writer, digest, limit)
            step.note(bytes=digest.size)
            _check_size(size_hint, digest.size)
            found = digest.inspector.verdict()
            formats.check(image.disk_format, image.container_format, found)
            stored = await writer.commit()
    except OSError as exc:  # the store itself failed: the image cannot be trusted any more
        if writer is not None:
            await asyncio.shield(_quietly(writer.abort()))
        await release(st, image_id, "saving", "killed")
        LOG.error("image store failed", extra={"fields": {"image": image_id, "error": str(exc)}})
        raise errors.ServiceUnavailable(
            f"Store {store.name} failed while saving image {image_id}; the image is killed "
            "and may only be deleted."
        ) from exc
    except BaseException:
        if writer is not None:
            await asyncio.shield(writer.abort())
        await release(st, image_id, "saving", "queued")
        raise
    with trace.span("checksums recorded", algorithm=digest.algorithm):
        await finish(st, image_id, "saving", store.name, stored.url, digest, found.virtual_size)
    trace.event("active")


async def finish(
    st: ImageState,
    image_id: str,
    before: str,
    store_name: str,
    url: str,
    digest: pipeline.Digest,
    virtual_size: int | None,
    charged: bool = False,
) -> None:
    """Record verified, committed data and make the image active; undo all on failure."""
    try:
        async with st.db.session() as session:
            image = await session.get(Image, image_id, populate_existing=True)
            if image is None or image.deleted or image.status != before:
                raise errors.Gone(
                    f"Image {image_id} could not be found after upload. The image may have "
                    "been deleted during the upload."
                )
            if image.owner and not charged:
                await quota.charge(session, image.owner, st.limits, nbytes=digest.size)
            image.charged_bytes = digest.size
            image.size, image.virtual_size = digest.size, virtual_size
            image.checksum = digest.md5.hexdigest()
            image.os_hash_algo, image.os_hash_value = digest.algorithm, digest.secure.hexdigest()
            image.locations[:] = [models.ImageLocation(store=store_name, url=url, meta={})]
            image.status, image.busy_host, image.updated_at = "active", None, utcnow()
    except BaseException:
        await asyncio.shield(st.stores.get(store_name).delete(url))
        await release(st, image_id, before, "queued")
        raise


async def stage(
    st: ImageState,
    ctx: RequestContext,
    image_id: str,
    source: AsyncIterator[bytes],
    *,
    size_hint: int | None = None,
) -> None:
    """glance-direct, step one: keep the data in the staging area until `import`."""
    image, limit = await prepare(st, ctx, image_id, size_hint, "uploading")
    writer = None
    try:
        writer = await st.stores.staging.writer(image_id)
        inspector = formats.Inspector()
        size = await pipeline.pump(source, writer, None, limit, inspector)
        _check_size(size_hint, size)
        formats.check(image.disk_format, image.container_format, inspector.verdict())
        await writer.commit()
        async with st.db.session() as session:
            row = await session.get(Image, image_id, populate_existing=True)
            if row is None or row.deleted or row.status != "uploading":
                raise errors.Gone(f"Image {image_id} was deleted during staging.")
            if row.owner:
                await quota.charge(session, row.owner, st.limits, nbytes=size)
            row.charged_bytes, row.busy_host = size, None
    except BaseException:
        if writer is not None:
            await asyncio.shield(writer.abort())
        await asyncio.shield(st.stores.staging.delete(images.staging_url(st, image_id)))
        await release(st, image_id, "uploading", "queued")
        raise


async def _quietly(work: Awaitable[None]) -> None:
    """Clean up after a failed store without hiding the first failure."""
    try:
        await work
    except OSError as exc:
        LOG.warning("cleanup failed", extra={"fields": {"error": str(exc)}})
