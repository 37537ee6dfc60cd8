"""`GET /v3/role_assignments`: the grants as stored, or (`effective`) as tokens see them.

Direct listing filters the assignment rows. Effective listing picks the rows that can bear on
the filters, expands them (`effective.py`: groups into members, inheritance into projects,
roles into the roles they imply), then filters the result. Called by `api/role_assignments.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.identity import effective, models, projects, roles
from overcast.identity.effective import Entry

A = models.Assignment


@dataclass(frozen=True)
class Query:
    user_id: str | None = None
    group_id: str | None = None
    role_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None
    system: str | None = None
    inherited_to: str | None = None
    effective: bool = False
    include_subtree: bool = False

    def check(self) -> None:
        if self.project_id and self.domain_id:
            raise errors.BadRequest("Specify at most one of scope.project.id and scope.domain.id.")
        if (self.project_id or self.domain_id) and self.system:
            raise errors.BadRequest("Specify either a project or domain scope, or the system.")
        if self.include_subtree and not self.project_id:
            raise errors.BadRequest("include_subtree requires scope.project.id.")
        if self.effective and self.group_id:
            raise errors.BadRequest(
                "Combining effective and group filter will always result in an empty list."
            )
        if self.inherited_to not in (None, "projects"):
            raise errors.BadRequest("scope.OS-INHERIT:inherited_to can only be 'projects'.")
        if self.system not in (None, "all"):
            raise errors.BadRequest("scope.system can only be 'all'.")


async def _project_set(session: AsyncSession, q: Query) -> set[str]:
    ids = {q.project_id} if q.project_id else set()
    if q.project_id and q.include_subtree:
        ids |= {p.id for p in await projects.subtree(session, q.project_id)}
    return ids


def _scope_clause(q: Query, project_ids: set[str]) -> Any:
    if project_ids:
        return and_(A.target_id.in_(project_ids), A.type.like("%Project"))
    if q.domain_id:
        return and_(A.target_id == q.domain_id, A.type.like("%Domain"))
    if q.system:
        return A.type.like("%System")
    return None


async def direct(session: AsyncSession, q: Query) -> list[Entry]:
    stmt = select(A)
    if q.user_id:
        stmt = stmt.where(A.actor_id == q.user_id, A.type.like("User%"))
    if q.group_id:
        stmt = stmt.where(A.actor_id == q.group_id, A.type.like("Group%"))
    if q.role_id:
        stmt = stmt.where(A.role_id == q.role_id)
    if q.inherited_to:
        stmt = stmt.where(A.inherited.is_(True))
    scope = _scope_clause(q, await _project_set(session, q))
    if scope is not None:
        stmt = stmt.where(scope)
    rows = (await session.execute(stmt)).scalars().all()
    return [effective.as_entry(row) for row in rows]


async def _candidates(session: AsyncSession, q: Query, project_ids: set[str]) -> list[Any]:
    """The rows that may produce an effective assignment matching `q`."""
    stmt = select(A)
    if q.user_id:
        actors = [q.user_id, *await roles.group_ids(session, q.user_id)]
        stmt = stmt.where(A.actor_id.in_(actors))
    if project_ids:
        rows = [await session.get(models.Project, p) for p in project_ids]
        found = [p for p in rows if p is not None]
        above = {a.id for p in found for a in await roles.ancestors(session, p)}
        stmt = stmt.where(
            or_(
                and_(A.target_id.in_(project_ids | above), A.type.like("%Project")),
                and_(
                    A.target_id.in_({p.domain_id for p in found}) if found else false(),
                    A.inherited.is_(True),
                    A.type.like("%Domain"),
                ),
            )
        )
    elif q.domain_id:
        stmt = stmt.where(
            A.target_id == q.domain_id, A.type.like("%Domain"), A.inherited.is_(False)
        )
    elif q.system:
        stmt = stmt.where(A.type.like("%System"))
    return list((await session.execute(stmt)).scalars().all())


async def listing(session: AsyncSession, q: Query) -> list[Entry]:
    q.check()
    if not q.effective:
        return await direct(session, q)
    project_ids = await _project_set(session, q)
    expander = await effective.Expander.load(session)
    out: list[Entry] = []
    for row in await _candidates(session, q, project_ids):
        for entry in await expander.expand(session, row, only_user=q.user_id):
            if q.role_id and entry.role_id != q.role_id:
                continue
            if project_ids and (entry.scope != "project" or entry.scope_id not in project_ids):
                continue
            if q.domain_id and (entry.scope != "domain" or entry.scope_id != q.domain_id):
                continue
            if q.system and entry.scope != "system":
                continue
            out.append(entry)
    return out


async def project_ids(session: AsyncSession, user_id: str) -> set[str]:
    """The projects where `user_id` effectively holds some role."""
    entries = await listing(session, Query(user_id=user_id, effective=True))
    return {e.scope_id for e in entries if e.scope == "project"}
