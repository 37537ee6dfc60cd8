"""Image members: the projects a shared image is offered to, and their answer.

The owner adds and removes members; each member project accepts or rejects for itself. A
member sees the image by id at once, but lists it only after accepting.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.db.base import utcnow
from overcast.image import access, images, models, schemas, validation, view
from overcast.image.state import ImageState

Member = models.ImageMember
MAX_MEMBERS = 128


async def _shared(
    session: AsyncSession, st: ImageState, ctx: RequestContext, image_id: str
) -> tuple[models.Image, bool]:
    image = await images.load(session, st, ctx, image_id)
    if image.visibility != "shared":
        raise errors.Forbidden("Only shared images have members.")
    return image, await access.is_member(session, image, ctx)


async def add(st: ImageState, ctx: RequestContext, image_id: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("member"), str) or not body["member"]:
        raise errors.BadRequest("Member to be added not specified")
    member_id = body["member"]
    if len(member_id) > 255:
        raise errors.BadRequest("Member id must be at most 255 characters long.")
    async with st.db.session() as session:
        image, is_member = await _shared(session, st, ctx, image_id)
        st.policy.enforce("add_member", ctx, access.target(image, ctx, is_member))
        if await session.get(Member, (image_id, member_id)) is not None:
            raise errors.Conflict(f"Member {member_id} already associated with image {image_id}")
        count = len(
            (await session.execute(select(Member).where(Member.image_id == image_id))).all()
        )
        if count >= MAX_MEMBERS:
            raise errors.OverQuota(f"Maximum number of image members ({MAX_MEMBERS}) exceeded.")
        now = utcnow()
        row = Member(
            image_id=image_id, member=member_id, status="pending", created_at=now, updated_at=now
        )
        session.add(row)
        return view.member(row)


async def listing(st: ImageState, ctx: RequestContext, image_id: str) -> list[dict[str, Any]]:
    async with st.db.reader() as session:
        image, is_member = await _shared(session, st, ctx, image_id)
        st.policy.enforce("get_members", ctx, access.target(image, ctx, is_member))
        stmt = select(Member).where(Member.image_id == image_id).order_by(Member.created_at)
        if not ctx.is_admin and image.owner != ctx.project_id:
            stmt = stmt.where(Member.member == ctx.project_id)
        return [view.member(m) for m in (await session.execute(stmt)).scalars()]


async def _visible_member(
    session: AsyncSession, st: ImageState, ctx: RequestContext, image_id: str, member_id: str
) -> tuple[models.Image, Member]:
    image, is_member = await _shared(session, st, ctx, image_id)
    row = await session.get(Member, (image_id, member_id))
    mine = ctx.is_admin or image.owner == ctx.project_id or member_id == ctx.project_id
    if row is None or not mine:
        raise errors.NotFound(f"{member_id} is not a member of image {image_id}")
    return image, row


async def show(
    st: ImageState, ctx: RequestContext, image_id: str, member_id: str
) -> dict[str, Any]:
    async with st.db.reader() as session:
        image, row = await _visible_member(session, st, ctx, image_id, member_id)
        st.policy.enforce("get_member", ctx, access.target(image, ctx, member_id == ctx.project_id))
        return view.member(row)


async def update(
    st: ImageState, ctx: RequestContext, image_id: str, member_id: str, body: Any
) -> dict[str, Any]:
    if not isinstance(body, dict) or "status" not in body:
        raise errors.BadRequest("Status not specified")
    validation.validate(schemas.member(), {"status": body["status"]})
    async with st.db.session() as session:
        image, row = await _visible_member(session, st, ctx, image_id, member_id)
        target = {**access.target(image, ctx), "member_id": member_id}
        if member_id != ctx.project_id and not ctx.is_admin:
            raise errors.Forbidden("Only the shared member can update the image member status.")
        st.policy.enforce("modify_member", ctx, target)
        row.status, row.updated_at = body["status"], utcnow()
        return view.member(row)


async def remove(st: ImageState, ctx: RequestContext, image_id: str, member_id: str) -> None:
    async with st.db.session() as session:
        image, row = await _visible_member(session, st, ctx, image_id, member_id)
        st.policy.enforce("delete_member", ctx, access.target(image, ctx))
        await session.delete(row)
