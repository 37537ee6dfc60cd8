"""Effective roles: what a user holds on a scope, through groups, inheritance and implication.

A user's roles on a project are the assignments to the user or any of their groups on the
project itself, plus inherited assignments on its ancestors and its domain; then every role
those imply, transitively.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, and_, or_, select
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


def _closure(seed: Select[Any]) -> Select[Any]:
    """Role rows for the ids `seed` selects and every role they imply, transitively: one
    recursive query (SQLite, PostgreSQL and MariaDB all have WITH RECURSIVE), where walking
    the implications level by level took a query per level."""
    IR = models.ImpliedRole
    closure = seed.cte("role_closure", recursive=True)
    closure = closure.union(
        select(IR.implied_role_id).join(closure, IR.prior_role_id == closure.c.role_id)
    )
    return select(models.Role).where(models.Role.id.in_(select(closure.c.role_id)))


async def _roles(session: AsyncSession, stmt: Select[Any]) -> list[models.Role]:
    return sorted((await session.execute(stmt)).scalars(), key=lambda r: r.name)


async def expand_implied(session: AsyncSession, role_ids: Iterable[str]) -> list[models.Role]:
    """`role_ids` and every role they imply, transitively, as Role rows."""
    ids = sorted(set(role_ids))
    if not ids:
        return []
    seed = select(models.Role.id.label("role_id")).where(models.Role.id.in_(ids))
    return await _roles(session, _closure(seed))


async def _assigned(
    session: AsyncSession,
    user_id: str,
    *,
    project: models.Project | None = None,
    domain_id: str | None = None,
    system: bool = False,
) -> Select[Any] | None:
    """A select of the role ids assigned to the user or their groups on the scope."""
    A = models.Assignment
    groups = select(models.Membership.group_id).where(models.Membership.user_id == user_id)
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
        return None
    return (
        select(A.role_id.label("role_id"))
        .where(or_(A.actor_id == user_id, A.actor_id.in_(groups)))
        .where(or_(*clauses))
    )


async def assigned_role_ids(
    session: AsyncSession,
    user_id: str,
    *,
    project: models.Project | None = None,
    domain_id: str | None = None,
    system: bool = False,
) -> set[str]:
    stmt = await _assigned(session, user_id, project=project, domain_id=domain_id, system=system)
    if stmt is None:
        return set()
    return set((await session.execute(stmt)).scalars())


async def effective_roles(
    session: AsyncSession,
    user_id: str,
    *,
    project: models.Project | None = None,
    domain_id: str | None = None,
    system: bool = False,
) -> list[models.Role]:
    seed = await _assigned(session, user_id, project=project, domain_id=domain_id, system=system)
    if seed is None:
        return []
    roles = await _roles(session, _closure(seed))
    # Domain-specific roles only lend their implied roles; they never appear in a token.
    return [r for r in roles if r.domain_id == models.GLOBAL]
