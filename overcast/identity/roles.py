"""Effective roles: what a user holds on a scope, through groups, inheritance and implication.

A user's roles on a project are the assignments to the user or any of their groups on the
project itself, plus inherited assignments on its ancestors and its domain; then every role
those imply, transitively.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.identity import models

SYSTEM = "system"


async def group_ids(session: AsyncSession, user_id: str) -> list[str]:
    rows = await session.execute(
        select(models.Membership.group_id).where(models.Membership.user_id == user_id)
    )
    return list(rows.scalars())


async def ancestors(session: AsyncSession, project: models.Project) -> list[models.Project]:
    """Parents of `project`, nearest first."""
    found: list[models.Project] = []
    parent_id = project.parent_id
    while parent_id is not None and len(found) < 64:
        parent = await session.get(models.Project, parent_id)
        if parent is None:
            break
        found.append(parent)
        parent_id = parent.parent_id
    return found


async def expand_implied(session: AsyncSession, role_ids: Iterable[str]) -> list[models.Role]:
    """`role_ids` and every role they imply, transitively, as Role rows."""
    seen = set(role_ids)
    frontier = set(seen)
    while frontier:
        rows = await session.execute(
            select(models.ImpliedRole.implied_role_id).where(
                models.ImpliedRole.prior_role_id.in_(frontier)
            )
        )
        frontier = set(rows.scalars()) - seen
        seen |= frontier
    if not seen:
        return []
    result = await session.execute(select(models.Role).where(models.Role.id.in_(seen)))
    return sorted(result.scalars(), key=lambda r: r.name)


async def assigned_role_ids(
    session: AsyncSession,
    user_id: str,
    *,
    project: models.Project | None = None,
    domain_id: str | None = None,
    system: bool = False,
) -> set[str]:
    actors = [user_id, *await group_ids(session, user_id)]
    A = models.Assignment
    clauses = []
    if project is not None:
        clauses.append(and_(A.target_id == project.id, A.type.in_(("UserProject", "GroupProject"))))
        parents = [p.id for p in await ancestors(session, project)]
        if parents:
            clauses.append(
                and_(
                    A.target_id.in_(parents),
                    A.inherited.is_(True),
                    A.type.in_(("UserProject", "GroupProject")),
                )
            )
        clauses.append(
            and_(
                A.target_id == project.domain_id,
                A.inherited.is_(True),
                A.type.in_(("UserDomain", "GroupDomain")),
            )
        )
    if domain_id is not None:
        clauses.append(
            and_(
                A.target_id == domain_id,
                A.inherited.is_(False),
                A.type.in_(("UserDomain", "GroupDomain")),
            )
        )
    if system:
        clauses.append(and_(A.target_id == SYSTEM, A.type.in_(("UserSystem", "GroupSystem"))))
    if not clauses:
        return set()
    rows = await session.execute(
        select(A.role_id).where(A.actor_id.in_(actors)).where(or_(*clauses))
    )
    return set(rows.scalars())


async def effective_roles(
    session: AsyncSession,
    user_id: str,
    *,
    project: models.Project | None = None,
    domain_id: str | None = None,
    system: bool = False,
) -> list[models.Role]:
    ids = await assigned_role_ids(
        session, user_id, project=project, domain_id=domain_id, system=system
    )
    roles = await expand_implied(session, ids)
    # Domain-specific roles only lend their implied roles; they never appear in a token.
    return [r for r in roles if r.domain_id == models.GLOBAL]
