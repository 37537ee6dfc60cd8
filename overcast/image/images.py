"""Image records: create, read, change by patch, delete, deactivate and reactivate.

Called by the API with a request context; raises `common.errors` only. Data (upload,
download, import) is in `data.py`; what a caller may see is decided by `access`.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.db.base import utcnow
from overcast.image import access, models, properties, quota, validation, view
from overcast.image.patch import Change
from overcast.image.state import ImageState

DISALLOWED = ("direct_url", "self", "file", "schema", "stores")
READ_ONLY = (
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "size",
    "virtual_size",
    "os_hash_algo",
    "os_hash_value",
    "locations",
)


async def load(
    session: AsyncSession, st: ImageState, ctx: RequestContext, image_id: str
) -> models.Image:
    """The image `image_id` if `ctx` may read it; NotFound otherwise (never says why)."""
    stmt = select(models.Image).where(
        models.Image.id == image_id, models.Image.deleted.is_(False), access.readable(ctx)
    )
    image = (await session.execute(stmt)).scalar_one_or_none()
    if image is None:
        raise errors.NotFound(f"No image found with ID {image_id}")
    target = access.target(image, ctx, await access.is_member(session, image, ctx))
    if not st.policy.check("get_image", ctx, target):
        raise errors.NotFound(f"No image found with ID {image_id}")
    return image


async def authorize(
    session: AsyncSession, st: ImageState, ctx: RequestContext, image: models.Image, rule: str
) -> None:
    """Enforce `rule` on a readable image (403: the caller knows it exists)."""
    st.policy.enforce(
        rule, ctx, access.target(image, ctx, await access.is_member(session, image, ctx))
    )


async def create(st: ImageState, ctx: RequestContext, body: Any) -> dict[str, Any]:
    if isinstance(body, dict):
        for key in DISALLOWED:
            if key in body:
                raise errors.Forbidden(f"Attribute '{key}' is read-only.")
    validation.validate(st.schema, body)
    body = dict(body)
    for key in READ_ONLY:
        if key in body:
            raise errors.Forbidden(f"Attribute '{key}' is read-only.")
    tags = body.pop("tags", [])
    image_id = body.pop("id", None) or str(uuid.uuid4())
    owner = body.pop("owner", None) or ctx.project_id
    st.policy.enforce("add_image", ctx, {"project_id": owner})
    if owner != ctx.project_id and not ctx.is_admin:
        raise errors.Forbidden(f"You are not permitted to create images owned by '{owner}'.")
    now = utcnow()
    image = models.Image(
        id=image_id,
        owner=owner,
        status="queued",
        visibility="shared",
        created_at=now,
        updated_at=now,
        min_disk=0,
        min_ram=0,
        protected=False,
        os_hidden=False,
        charged_bytes=0,
        properties=[],
        tags=[],
        locations=[],
    )
    for name, value in body.items():
        if name in properties.BASE:
            properties.set_base(st, ctx, image, name, value)
        else:
            properties.set_extra(image, name, value)
    properties.set_tags(image, tags)
    duplicate = errors.Conflict(f"Image with identifier {image_id} already exists!")
    try:
        async with st.db.session() as session:
            if await session.get(models.Image, image_id) is not None:
                raise duplicate
            if owner:
                await quota.charge(session, owner, st.limits, images=1)
            session.add(image)
    except IntegrityError as exc:  # the same id created by a racing request
        raise duplicate from exc
    return view.image(image)


async def show(st: ImageState, ctx: RequestContext, image_id: str) -> dict[str, Any]:
    async with st.db.reader() as session:
        return view.image(await load(session, st, ctx, image_id))


async def update(
    st: ImageState, ctx: RequestContext, image_id: str, changes: list[Change]
) -> dict[str, Any]:
    async with st.db.session() as session:
        image = await load(session, st, ctx, image_id)
        await authorize(session, st, ctx, image, "modify_image")
        old_owner = image.owner
        for change in changes:
            properties.apply(st, ctx, image, change)
        if changes:
            image.updated_at = utcnow()
        if image.owner != old_owner:
            await _move_usage(session, image, old_owner)
        await session.flush()
        return view.image(image)


async def _move_usage(session: AsyncSession, image: models.Image, old: str | None) -> None:
    unlimited = quota.Limits(-1, -1)
    if old:
        await quota.release(session, old, images=1, nbytes=image.charged_bytes)
    if image.owner:
        await quota.charge(session, image.owner, unlimited, images=1, nbytes=image.charged_bytes)


async def delete(st: ImageState, ctx: RequestContext, image_id: str) -> None:
    async with st.db.session() as session:
        image = await load(session, st, ctx, image_id)
        await authorize(session, st, ctx, image, "delete_image")
        if image.protected:
            raise errors.Forbidden(f"Image {image_id} is protected and cannot be deleted.")
        urls = [(loc.store, loc.url) for loc in image.locations]
        if image.owner:
            await quota.release(session, image.owner, images=1, nbytes=image.charged_bytes)
        image.status, image.deleted, image.deleted_at = "deleted", True, utcnow()
        image.charged_bytes, image.busy_host = 0, None
        image.locations.clear()
    for store, url in urls:
        if store in st.stores.by_name:
            await st.stores.by_name[store].delete(url)
    await st.stores.staging.delete(staging_url(st, image_id))


def staging_url(st: ImageState, image_id: str) -> str:
    return st.stores.staging.url_for(image_id)


async def set_active(st: ImageState, ctx: RequestContext, image_id: str, active: bool) -> None:
    """Reactivate (`active`) or deactivate an image."""
    rule = "reactivate" if active else "deactivate"
    async with st.db.session() as session:
        image = await load(session, st, ctx, image_id)
        await authorize(session, st, ctx, image, rule)
        want, other = ("active", "deactivated") if active else ("deactivated", "active")
        if image.status == want:
            return
        if image.status != other:
            verb = "reactivate" if active else "deactivate"
            raise errors.Forbidden(f"Not allowed to {verb} image in status '{image.status}'")
        image.status, image.updated_at = want, utcnow()


async def tag(st: ImageState, ctx: RequestContext, image_id: str, value: str, add: bool) -> None:
    async with st.db.session() as session:
        image = await load(session, st, ctx, image_id)
        await authorize(session, st, ctx, image, "modify_image")
        present = {t.value for t in image.tags}
        if add:
            if len(value) > 255:
                raise errors.BadRequest("Tag must be at most 255 characters long.")
            properties.set_tags(image, [*present, value])
        elif value not in present:
            raise errors.NotFound(f"Tag {value} not found on image {image_id}.")
        else:
            properties.set_tags(image, [t for t in present if t != value])
        image.updated_at = utcnow()
