"""The interoperable image import (POST /v2/images/{id}/import), run in the background.

`glance-direct` moves staged data into the chosen stores, hashing and verifying it on the way
(uploading -> importing -> active; back to `queued` on failure, staged data dropped).
`web-download` first fetches a URL (through the import filter of `fetch`) into the staging
area (queued -> importing), then goes on as glance-direct.
`copy-image` copies an active image's data into more stores (admin only).
Each import is recorded as an `api_image_import` task that ends in success or failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from overcast.common import errors, log
from overcast.common.context import RequestContext
from overcast.common.db.base import utcnow
from overcast.image import data, drivers, fetch, formats, images, models, pipeline, quota, tasks
from overcast.image.state import ImageState

LOG = log.get(__name__)


def _stores(st: ImageState, body: dict[str, Any], header: str | None) -> list[str]:
    for key in ("all_stores", "all_stores_must_succeed"):
        if not isinstance(body.get(key, False if key == "all_stores" else True), bool):
            raise errors.BadRequest(f"'{key}' must be boolean value only")
    wanted = body.get("stores")
    if wanted is not None and (
        not isinstance(wanted, list) or not all(isinstance(s, str) for s in wanted)
    ):
        raise errors.BadRequest("'stores' must be a list of store identifiers.")
    if body.get("all_stores"):
        if wanted:
            raise errors.BadRequest("all_stores can't be used with the stores parameter")
        names = list(st.stores.by_name)
    else:
        names = wanted or ([header] if header else [st.stores.default])
    for name in names:
        st.stores.get(name)
    return list(dict.fromkeys(names))


async def start(
    st: ImageState, ctx: RequestContext, image_id: str, body: Any, store_header: str | None
) -> None:
    """Validate an import request and start it; the work continues after the 202."""
    if not isinstance(body, dict) or not isinstance(body.get("method"), dict):
        raise errors.BadRequest("Import request requires a 'method' field.")
    method = body["method"].get("name")
    if method is None:
        raise errors.BadRequest("Import request requires a 'name' field.")
    if method not in st.import_methods:
        raise errors.BadRequest(f"Unknown import method name '{method}'.")
    uri = None
    if method == "web-download":
        uri = await fetch.check(st.settings.image, body["method"].get("uri"), "web-download")
    names = _stores(st, body, store_header)
    async with st.db.reader() as session:
        image = await images.load(session, st, ctx, image_id)
        rule = "copy_image" if method == "copy-image" else "import_image"
        await images.authorize(session, st, ctx, image, rule)
    if not image.container_format:
        raise errors.Conflict("'container_format' needs to be set before import")
    if not image.disk_format:
        raise errors.Conflict("'disk_format' needs to be set before import")
    must = body.get("all_stores_must_succeed", True)
    if method == "copy-image":
        work = await _start_copy(st, image, names, body)
    elif uri is not None:
        if image.status != "queued":
            raise errors.Conflict(
                "Image needs to be in 'queued' state to use 'web-download' method"
            )
        _image, limit = await data.prepare(st, ctx, image_id, None, "importing", "import_image")
        work = _web(st, image, uri, names, must, limit)
    else:
        if image.status != "uploading" or image.busy_host is not None:
            raise errors.Conflict(
                "Image needs to be staged before 'glance-direct' method can be used"
            )
        if not await data.claim(st, image_id, "uploading", "importing"):
            raise errors.Conflict(
                f"New operation on image '{image_id}' is not permitted as prior operation is "
                "still in progress"
            )
        work = _direct(st, image, names, must)
    task_input = {"image_id": image_id, "import_req": body, "backend": names}
    task_id = await tasks.record(st, ctx, "api_image_import", task_input, image_id)
    if method != "copy-image":
        await _progress(st, image_id, importing=names, failed=[])
    st.spawn(_tracked(st, task_id, work))


async def _start_copy(
    st: ImageState, image: models.Image, names: list[str], body: dict[str, Any]
) -> Coroutine[Any, Any, str | None]:
    """Check a copy-image request; the copy to run (nothing to do when every store has it)."""
    if image.status != "active":
        raise errors.Conflict("Only images with status active can be targeted for copying")
    present = {loc.store for loc in image.locations}
    if body.get("all_stores"):
        names = [n for n in names if n not in present]
    for name in names:
        if name in present:
            raise errors.BadRequest(f"Image is already present at store '{name}'")
    # Reported even when every store already holds the data: the copy is then done.
    await _progress(st, image.id, importing=names, failed=[])
    return _copy(st, image.id, names)


async def _tracked(st: ImageState, task_id: str, work: Coroutine[Any, Any, str | None]) -> None:
    """Run an import's `work` as the task `task_id`: its error, if any, fails the task."""
    await tasks.begin(st, task_id)
    await tasks.end(st, task_id, await work)


async def _web(
    st: ImageState, image: models.Image, uri: str, names: list[str], must: bool, limit: int | None
) -> str | None:
    """Fetch `uri` into the staging area (charged to the owner as staged data is), then
    import it as glance-direct does."""
    writer = await st.stores.staging.writer(image.id)
    try:
        size = await pipeline.pump(fetch.stream(st.settings.image, uri), writer, None, limit)
        await writer.commit()
        async with st.db.session() as session:
            row = await session.get(models.Image, image.id, populate_existing=True)
            if row is None or row.deleted or row.status != "importing":
                raise errors.Gone(f"Image {image.id} was deleted during its download.")
            if row.owner:
                await quota.charge(session, row.owner, st.limits, nbytes=size)
            row.charged_bytes = size
    except (errors.OvercastError, OSError, SQLAlchemyError) as exc:
        await writer.abort()
        return await _failed(st, image.id, names, exc)
    except BaseException:
        await asyncio.shield(writer.abort())
        raise
    return await _direct(st, image, names, must)


async def _failed(st: ImageState, image_id: str, names: list[str], exc: Exception) -> str:
    """After a failed import: the image is queued again, its staged data dropped and freed."""
    LOG.warning("import failed", extra={"fields": {"image": image_id, "error": str(exc)}})
    await _progress(st, image_id, importing=[], failed=names)
    await data.release(st, image_id, "importing", "queued")
    await st.stores.staging.delete(images.staging_url(st, image_id))
    await _uncharge(st, image_id)
    return str(exc)


async def _direct(st: ImageState, image: models.Image, names: list[str], must: bool) -> str | None:
    """Move the staged data into the first store, then copy it to the others; the error that
    ended the import, if one did."""
    staged = images.staging_url(st, image.id)
    try:
        first = st.stores.get(names[0])
        writer = await first.writer(image.id)
        digest = pipeline.Digest(st.settings.image.hashing_algorithm)
        try:
            await pipeline.pump(st.stores.staging.read(staged), writer, digest)
            found = digest.inspector.verdict()
            formats.check(image.disk_format, image.container_format, found)
            stored = await writer.commit()
        except BaseException:
            await writer.abort()
            raise
        await data.finish(
            st, image.id, "importing", first.name, stored.url, digest, found.virtual_size, True
        )
        await st.stores.staging.delete(staged)
    except (errors.OvercastError, OSError, SQLAlchemyError) as exc:
        return await _failed(st, image.id, names, exc)
    await _progress(st, image.id, done=names[0])
    return await _copy(st, image.id, names[1:], must)


async def _uncharge(st: ImageState, image_id: str) -> None:
    """After a failed import the image is queued again and its staged bytes are freed."""
    async with st.db.session() as session:
        row = await session.get(models.Image, image_id, populate_existing=True)
        if row is not None and not row.deleted and row.status == "queued" and row.owner:
            await quota.release(session, row.owner, nbytes=row.charged_bytes)
            row.charged_bytes = 0


async def _copy(st: ImageState, image_id: str, names: list[str], must: bool = False) -> str | None:
    """Copy an active image's data into each store of `names`. A failure is logged and the
    copy goes on, unless `must`: then the rest is given up and the failure returned."""
    for i, name in enumerate(names):
        try:
            await _copy_one(st, image_id, st.stores.get(name))
        except (errors.OvercastError, OSError, SQLAlchemyError) as exc:
            LOG.warning(
                "copy failed",
                extra={"fields": {"image": image_id, "store": name, "error": str(exc)}},
            )
            if must:
                await _progress(st, image_id, done=None, failed_now=names[i:])
                return f"Copy to store {name} failed: {exc}"
            await _progress(st, image_id, done=None, failed_now=[name])
            continue
        await _progress(st, image_id, done=name)
    return None


IMPORTING = "os_glance_importing_to_stores"
FAILED = "os_glance_failed_import"


async def _progress(
    st: ImageState,
    image_id: str,
    *,
    importing: list[str] | None = None,
    failed: list[str] | None = None,
    done: str | None = None,
    failed_now: tuple[str, ...] | list[str] = (),
) -> None:
    """Glance's import progress on the image: the stores still being imported to, and those
    that failed; a client waits until the first is empty. Set whole (`importing`, `failed`) or
    moved along (`done` leaves the list, `failed_now` moves to the failed ones)."""
    async with st.db.session() as session:
        row = await session.get(models.Image, image_id, populate_existing=True)
        if row is None or row.deleted:
            return
        props = {p.name: p for p in row.properties}

        def read(name: str) -> list[str]:
            found = props.get(name)
            return [v for v in (found.value or "").split(",") if v] if found else []

        now_importing = importing if importing is not None else read(IMPORTING)
        now_failed = failed if failed is not None else read(FAILED)
        gone = {done, *failed_now}
        now_importing = [n for n in now_importing if n not in gone]
        now_failed = list(dict.fromkeys([*now_failed, *failed_now]))
        for name, values in ((IMPORTING, now_importing), (FAILED, now_failed)):
            if name in props:
                props[name].value = ",".join(values)
            else:
                row.properties.append(models.ImageProperty(name=name, value=",".join(values)))


async def _copy_one(st: ImageState, image_id: str, store: drivers.Store) -> None:
    async with st.db.reader() as session:
        image = await session.get(models.Image, image_id)
        if image is None or image.deleted or not image.locations:
            return
        source = image.locations[0]
    writer = await store.writer(image_id)
    try:
        await pipeline.pump(st.stores.get(source.store).read(source.url), writer)
        stored = await writer.commit()
    except BaseException:
        await writer.abort()
        raise
    async with st.db.session() as session:
        row = await session.get(models.Image, image_id, populate_existing=True)
        if row is None or row.deleted:
            await store.delete(stored.url)
            return
        row.locations.append(models.ImageLocation(store=store.name, url=stored.url, meta={}))
        row.updated_at = utcnow()
