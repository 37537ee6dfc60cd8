"""Regions: a tree of places endpoints live in (`parent_region_id`), as Keystone keeps them.

Called by api/regions.py. A region cannot become its own ancestor, and cannot be deleted while
any region below it has endpoints; deleting it deletes its child regions too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.db.base import new_id
from overcast.identity import models

MAX_DEPTH = 64


async def get(session: AsyncSession, region_id: str) -> models.Region:
    region = await session.get(models.Region, region_id)
    if region is None:
        raise errors.NotFound(f"Could not find region: {region_id}.")
    return region


async def list_(session: AsyncSession, parent_region_id: str | None) -> list[models.Region]:
    stmt = select(models.Region).order_by(models.Region.id)
    if parent_region_id is not None:
        stmt = stmt.where(models.Region.parent_region_id == parent_region_id)
    return list((await session.execute(stmt)).scalars())


async def _check_parent(session: AsyncSession, region_id: str, parent_id: str | None) -> None:
    """The parent exists and `region_id` is not among its ancestors (no cycles)."""
    if parent_id is None:
        return
    current: str | None = parent_id
    for _ in range(MAX_DEPTH):
        if current is None:
            return
        if current == region_id:
            raise errors.BadRequest(
                f"Region {region_id} cannot be its own ancestor (parent {parent_id})."
            )
        found = await session.get(models.Region, current)
        if found is None:
            raise errors.NotFound(f"Could not find region: {current}.")
        current = found.parent_region_id
    raise errors.BadRequest("The region hierarchy is too deep.")


async def create(
    session: AsyncSession,
    region_id: str | None,
    description: str | None,
    parent_region_id: str | None,
    extra: dict[str, Any],
) -> models.Region:
    region = models.Region(
        id=region_id or new_id(),
        description=description or "",
        parent_region_id=parent_region_id,
        extra=extra,
    )
    if await session.get(models.Region, region.id) is not None:
        raise errors.Conflict(f"Duplicate ID, {region.id}.")
    await _check_parent(session, region.id, parent_region_id)
    session.add(region)
    await session.flush()
    return region


async def update(
    session: AsyncSession, region_id: str, changes: dict[str, Any], extra: dict[str, Any]
) -> models.Region:
    region = await get(session, region_id)
    if "parent_region_id" in changes:
        await _check_parent(session, region.id, changes["parent_region_id"])
        region.parent_region_id = changes["parent_region_id"]
    if "description" in changes:
        region.description = changes["description"]
    if extra:
        region.extra = {**(region.extra or {}), **extra}
    await session.flush()
    return region


async def delete(session: AsyncSession, region_id: str) -> None:
    region = await get(session, region_id)
    subtree = [region]
    frontier = [region.id]
    while frontier and len(subtree) < 10_000:
        children = (
            await session.execute(
                select(models.Region).where(models.Region.parent_region_id.in_(frontier))
            )
        ).scalars()
        found = list(children)
        subtree.extend(found)
        frontier = [r.id for r in found]
    ids = [r.id for r in subtree]
    if await session.scalar(select(func.count()).where(models.Endpoint.region_id.in_(ids))):
        raise errors.Forbidden(
            f"Unable to delete region {region_id} because it or its child regions have "
            "associated endpoints."
        )
    for found_region in reversed(subtree):
        await session.delete(found_region)
