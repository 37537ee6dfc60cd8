"""Stores as users see them: the list of stores, a project's usage, dropping one copy of data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.db.base import utcnow
from overcast.image import images, models, quota
from overcast.image.state import ImageState

MIB = 1 << 20
BUSY = ("saving", "uploading", "importing")


def store_list(st: ImageState, detail: bool) -> list[dict[str, Any]]:
    out = []
    for store in st.stores.all():
        entry: dict[str, Any] = {"id": store.name, "description": store.description()}
        if store.name == st.stores.default:
            entry["default"] = True
        if detail:
            entry.update(type=store.driver, weight=0, properties={})
        out.append(entry)
    return out


async def usage(st: ImageState, ctx: RequestContext) -> dict[str, Any]:
    """Glance's /v2/info/usage: the caller's project against its limits."""
    project = ctx.project_id or ""
    img = models.Image
    async with st.db.reader() as session:
        count, used = await quota.current(session, project)
        busy = await session.execute(
            select(func.count(), func.coalesce(func.sum(img.charged_bytes), 0)).where(
                img.owner == project, img.deleted.is_(False), img.status.in_(BUSY)
            )
        )
        uploading, staged = busy.one()
    size_limit = -1 if st.limits.bytes < 0 else st.limits.bytes // MIB
    return {
        "image_size_total": {"limit": size_limit, "usage": used // MIB},
        "image_stage_total": {"limit": size_limit, "usage": int(staged) // MIB},
        "image_count_total": {"limit": st.limits.images, "usage": count},
        "image_count_uploading": {"limit": st.limits.images, "usage": int(uploading)},
    }


async def delete_from_store(
    st: ImageState, ctx: RequestContext, store_name: str, image_id: str
) -> None:
    store = st.stores.by_name.get(store_name)
    if store is None:
        raise errors.NotFound(f"Unknown store {store_name}.")
    async with st.db.session() as session:
        image = await images.load(session, st, ctx, image_id)
        await images.authorize(session, st, ctx, image, "delete_image_location")
        if image.status != "active":
            raise errors.Conflict(
                "It's not allowed to remove image data from store if image status is not 'active'"
            )
        found = [loc for loc in image.locations if loc.store == store_name]
        if not found:
            raise errors.NotFound(f"Image {image_id} is not present in store {store_name}.")
        if len(image.locations) == len(found):
            raise errors.Conflict(f"Cannot delete image {image_id} from its only store.")
        for loc in found:
            image.locations.remove(loc)
        image.updated_at = utcnow()
    for loc in found:
        await store.delete(loc.url)
