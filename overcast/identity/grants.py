"""Grants: one role given to a user or group on a project, a domain or the system, possibly
inherited to the projects below. Put (idempotent), check, remove and list them.

Called by `api/assignments.py` inside a session; removals are announced by the caller so that
cached token validations drop the role at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.identity import lookup, models, roles

ACTORS = {"user": models.User, "group": models.Group}
TARGETS = {"project": models.Project, "domain": models.Domain}


@dataclass(frozen=True)
class Grant:
    actor: str  # "user" | "group"
    actor_id: str
    target: str  # "project" | "domain" | "system"
    target_id: str  # "system" for the system
    role_id: str
    inherited: bool = False

    @property
    def type(self) -> str:
        return self.actor.capitalize() + self.target.capitalize()

    def key(self) -> tuple[str, str, str, str, bool]:
        return (self.type, self.actor_id, self.target_id, self.role_id, self.inherited)


async def _check_parties(
    session: AsyncSession, actor: str, actor_id: str, target: str, target_id: str
) -> Any:
    """404 for an unknown actor or target; the target row (None for the system)."""
    await lookup.get(session, ACTORS[actor], actor_id)
    if target == "system":
        return None
    return await lookup.get(session, TARGETS[target], target_id)


async def validate(session: AsyncSession, grant: Grant) -> None:
    """Every party exists, and a domain-specific role stays in its domain."""
    target = await _check_parties(
        session, grant.actor, grant.actor_id, grant.target, grant.target_id
    )
    role = await lookup.get(session, models.Role, grant.role_id)
    if role.domain_id == models.GLOBAL:
        return
    target_domain = None if target is None else getattr(target, "domain_id", target.id)
    if target_domain != role.domain_id:
        raise errors.Forbidden(
            f"The {grant.target} {grant.target_id} must be in the same domain as the role "
            f"{role.id} being assigned."
        )


async def put(session: AsyncSession, grant: Grant) -> None:
    await validate(session, grant)
    if await session.get(models.Assignment, grant.key()) is None:
        session.add(
            models.Assignment(
                type=grant.type,
                actor_id=grant.actor_id,
                target_id=grant.target_id,
                role_id=grant.role_id,
                inherited=grant.inherited,
            )
        )
        await lookup.flush_once(session, "role assignment")


async def check(session: AsyncSession, grant: Grant) -> models.Assignment:
    await validate(session, grant)
    row = await session.get(models.Assignment, grant.key())
    if row is None:
        raise errors.NotFound(
            f"Could not find role assignment with role: {grant.role_id}, user or group: "
            f"{grant.actor_id}, project, domain, or system: {grant.target_id}."
        )
    return row


async def remove(session: AsyncSession, grant: Grant) -> None:
    await session.delete(await check(session, grant))


async def roles_of(
    session: AsyncSession,
    actor: str,
    actor_id: str,
    target: str,
    target_id: str,
    inherited: bool = False,
) -> list[models.Role]:
    """The roles granted directly to the actor on the target."""
    await _check_parties(session, actor, actor_id, target, target_id)
    A = models.Assignment
    stmt = (
        select(models.Role)
        .join(A, A.role_id == models.Role.id)
        .where(
            A.type == actor.capitalize() + target.capitalize(),
            A.actor_id == actor_id,
            A.target_id == (roles.SYSTEM if target == "system" else target_id),
            A.inherited.is_(inherited),
        )
        .order_by(models.Role.name)
    )
    return list((await session.execute(stmt)).scalars())
