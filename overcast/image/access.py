"""Who may see which image: the visibility rules of Glance, as SQL conditions and policy targets.

A project sees public and community images, its own, and shared images it is a member of.
Lists are narrower than single reads: they leave out community images of others and shared
images whose membership the project has not accepted (unless asked with `member_status`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.image import models

Image = models.Image
Member = models.ImageMember

VISIBILITIES = ("public", "private", "shared", "community")
MEMBER_STATUSES = ("pending", "accepted", "rejected", "all")


def _member_of(ctx: RequestContext, status: str = "all") -> ColumnElement[bool]:
    if not ctx.project_id:
        return false()
    cond = and_(Member.image_id == Image.id, Member.member == ctx.project_id)
    if status != "all":
        cond = and_(cond, Member.status == status)
    return exists(select(Member.image_id).where(cond))


def readable(ctx: RequestContext) -> ColumnElement[bool]:
    """Images `ctx` may read one at a time (GET /v2/images/{id})."""
    if ctx.is_admin:
        return true()
    return or_(
        Image.visibility.in_(("public", "community")),
        Image.owner == ctx.project_id if ctx.project_id else false(),
        and_(Image.visibility == "shared", _member_of(ctx)),
    )


def listed(ctx: RequestContext, visibility: str | None, member_status: str) -> ColumnElement[bool]:
    """Images that appear in `ctx`'s list for a `visibility` filter (None: the default list)."""
    if visibility is not None and visibility not in (*VISIBILITIES, "all"):
        raise errors.BadRequest(f"Invalid visibility value: {visibility}")
    if member_status not in MEMBER_STATUSES:
        raise errors.BadRequest(f"Invalid status: {member_status}")
    kind = Image.visibility == visibility if visibility not in (None, "all") else true()
    if ctx.is_admin:
        return kind
    mine = Image.owner == ctx.project_id if ctx.project_id else false()
    shared = and_(Image.visibility == "shared", _member_of(ctx, member_status))
    if visibility in ("public", "community"):
        return kind
    if visibility == "private":
        return and_(kind, mine)
    if visibility == "shared":
        return and_(kind, or_(mine, shared))
    seen = [Image.visibility == "public", mine, shared]
    if visibility == "all":
        seen.append(Image.visibility == "community")
    return or_(*seen)


def target(image: models.Image, ctx: RequestContext, is_member: bool = False) -> dict[str, Any]:
    """The policy target for `image` as `ctx` sees it."""
    return {
        "project_id": image.owner,
        "visibility": image.visibility,
        "member_id": ctx.project_id if is_member else None,
        "image_id": image.id,
    }


async def is_member(session: AsyncSession, image: models.Image, ctx: RequestContext) -> bool:
    if not ctx.project_id or image.visibility != "shared":
        return False
    found = await session.get(Member, (image.id, ctx.project_id))
    return found is not None
