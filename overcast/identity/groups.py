"""Groups and their members: create, update, delete (with its memberships and grants), add,
check and remove a user. Called by `api/groups.py` inside a session.

Membership changes what a user's tokens carry (group grants), so removing a member or deleting
a group is announced by the caller after the commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.identity import cascade, domains, lookup, models

OWN = {"name", "description", "domain_id"}


async def create(session: AsyncSession, values: dict[str, Any], default_domain: str) -> Any:
    domain_id = values.get("domain_id") or default_domain
    await lookup.get(session, models.Domain, domain_id)
    name = values["name"]
    await lookup.ensure_unique(session, models.Group, name, domain_id)
    group = models.Group(
        name=name,
        domain_id=domain_id,
        description=values.get("description") or "",
        extra=domains.merge_extra({}, values, OWN),
    )
    session.add(group)
    await lookup.flush(session, "group", name, domain_id)
    return group


async def update(session: AsyncSession, group: models.Group, values: dict[str, Any]) -> None:
    if values.get("domain_id") not in (None, group.domain_id):
        raise errors.BadRequest("Update of `domain_id` is not allowed.")
    name = values.get("name")
    if name is not None and name != group.name:
        await lookup.ensure_unique(session, models.Group, name, group.domain_id, group.id)
        group.name = name
    if "description" in values:
        group.description = values["description"] or ""
    group.extra = domains.merge_extra(group.extra, values, OWN)
    await lookup.flush(session, "group", group.name, group.domain_id)


async def delete(session: AsyncSession, group: models.Group) -> None:
    await cascade.forget_group(session, group.id)
    await session.delete(group)


async def _membership(session: AsyncSession, group_id: str, user_id: str) -> Any:
    return await session.get(models.Membership, (user_id, group_id))


async def add_user(session: AsyncSession, group_id: str, user_id: str) -> None:
    """Idempotent: adding a member twice succeeds."""
    await lookup.get(session, models.Group, group_id)
    await lookup.get(session, models.User, user_id)
    if await _membership(session, group_id, user_id) is None:
        session.add(models.Membership(user_id=user_id, group_id=group_id))
        await lookup.flush_once(session, "group membership")


async def check_user(session: AsyncSession, group_id: str, user_id: str) -> None:
    await lookup.get(session, models.Group, group_id)
    await lookup.get(session, models.User, user_id)
    if await _membership(session, group_id, user_id) is None:
        raise errors.NotFound(f"User {user_id} is not a member of group {group_id}.")


async def remove_user(session: AsyncSession, group_id: str, user_id: str) -> None:
    await check_user(session, group_id, user_id)
    membership = await _membership(session, group_id, user_id)
    await session.delete(membership)


async def members(session: AsyncSession, group_id: str) -> Any:
    """A select of the users in `group_id` (to filter and page further)."""
    await lookup.get(session, models.Group, group_id)
    M = models.Membership
    return select(models.User).join(M, M.user_id == models.User.id).where(M.group_id == group_id)


async def of_user(session: AsyncSession, user_id: str) -> Any:
    """A select of the groups `user_id` belongs to."""
    await lookup.get(session, models.User, user_id)
    M = models.Membership
    return select(models.Group).join(M, M.group_id == models.Group.id).where(M.user_id == user_id)
