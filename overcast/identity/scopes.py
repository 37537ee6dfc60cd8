"""What a user may scope a token to: projects, domains and the system.

Called by api/auth_scopes.py (`/v3/auth/projects`, `/v3/auth/domains`, `/v3/auth/system`).
A project counts when the user (or one of their groups) holds a role on it directly, through an
inherited role on an ancestor, or through an inherited role on its domain; only enabled projects
in enabled domains are offered.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.identity import models, roles

PROJECT_TYPES = ("UserProject", "GroupProject")
DOMAIN_TYPES = ("UserDomain", "GroupDomain")
SYSTEM_TYPES = ("UserSystem", "GroupSystem")


async def _assignments(
    session: AsyncSession, user_id: str, types: tuple[str, ...]
) -> list[models.Assignment]:
    actors = [user_id, *await roles.group_ids(session, user_id)]
    A = models.Assignment
    stmt = select(A).where(A.actor_id.in_(actors), A.type.in_(types))
    return list((await session.execute(stmt)).scalars())


async def _descendants(session: AsyncSession, roots: set[str]) -> set[str]:
    found: set[str] = set()
    frontier = set(roots)
    while frontier and len(found) < 100_000:
        rows = await session.execute(
            select(models.Project.id).where(models.Project.parent_id.in_(frontier))
        )
        frontier = set(rows.scalars()) - found
        found |= frontier
    return found


async def projects_for_user(session: AsyncSession, user_id: str) -> list[models.Project]:
    rows = await _assignments(session, user_id, PROJECT_TYPES + DOMAIN_TYPES)
    direct = {a.target_id for a in rows if a.type in PROJECT_TYPES}
    inherited_from = {a.target_id for a in rows if a.type in PROJECT_TYPES and a.inherited}
    domains = {a.target_id for a in rows if a.type in DOMAIN_TYPES and a.inherited}
    ids = direct | await _descendants(session, inherited_from)
    if not ids and not domains:
        return []
    P, D = models.Project, models.Domain
    stmt = (
        select(P)
        .join(D, D.id == P.domain_id)
        .where(or_(P.id.in_(ids), P.domain_id.in_(domains)))
        .where(and_(P.enabled.is_(True), D.enabled.is_(True)))
        .order_by(P.name, P.id)
    )
    return list((await session.execute(stmt)).scalars())


async def domains_for_user(session: AsyncSession, user_id: str) -> list[models.Domain]:
    rows = await _assignments(session, user_id, DOMAIN_TYPES)
    ids = {a.target_id for a in rows if not a.inherited}
    if not ids:
        return []
    D = models.Domain
    stmt = select(D).where(D.id.in_(ids), D.enabled.is_(True)).order_by(D.name, D.id)
    return list((await session.execute(stmt)).scalars())


async def has_system_role(session: AsyncSession, user_id: str) -> bool:
    return bool(await _assignments(session, user_id, SYSTEM_TYPES))
