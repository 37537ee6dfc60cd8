"""Role assignments as entries, and their expansion into what tokens see.

An `Entry` is one line of `GET /v3/role_assignments`. `Expander` turns one stored assignment
into effective entries: a group's grant into one per member, an inherited grant into one per
project below its target, each role into itself and the roles it implies (domain-specific
roles only lend what they imply). Used by `assignment_list.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.identity import models, projects


@dataclass(frozen=True)
class Entry:
    role_id: str
    scope: str  # "project" | "domain" | "system"
    scope_id: str  # "system" for the system
    assignment: str  # the grant's URL below /v3
    user_id: str | None = None
    group_id: str | None = None
    inherited: bool = False
    membership: tuple[str, str] | None = None  # (group id, user id) it came through
    prior_role_id: str | None = None  # the granted role that implies this one


def grant_path(kind: str, actor_id: str, target_id: str, role_id: str, inherited: bool) -> str:
    """The URL path (below /v3) of the grant of type `kind`, e.g. "GroupProject"."""
    actor = "users" if kind.startswith("User") else "groups"
    target = kind.removeprefix("User").removeprefix("Group").lower()
    if target == "system":
        return f"system/{actor}/{actor_id}/roles/{role_id}"
    path = f"{target}s/{target_id}/{actor}/{actor_id}/roles/{role_id}"
    return f"OS-INHERIT/{path}/inherited_to_projects" if inherited else path


def as_entry(row: models.Assignment) -> Entry:
    is_user = row.type.startswith("User")
    return Entry(
        role_id=row.role_id,
        scope=row.type.removeprefix("User").removeprefix("Group").lower(),
        scope_id=row.target_id,
        assignment=grant_path(row.type, row.actor_id, row.target_id, row.role_id, row.inherited),
        user_id=row.actor_id if is_user else None,
        group_id=None if is_user else row.actor_id,
        inherited=row.inherited,
    )


class Expander:
    def __init__(self, implied: dict[str, list[str]], global_roles: set[str]) -> None:
        self.implied = implied
        self.global_roles = global_roles
        self._members: dict[str, list[str]] = {}
        self._below: dict[tuple[str, str], list[str]] = {}

    @classmethod
    async def load(cls, session: AsyncSession) -> Expander:
        implied: dict[str, list[str]] = {}
        for row in (await session.execute(select(models.ImpliedRole))).scalars():
            implied.setdefault(row.prior_role_id, []).append(row.implied_role_id)
        rows = await session.execute(
            select(models.Role.id).where(models.Role.domain_id == models.GLOBAL)
        )
        return cls(implied, set(rows.scalars()))

    def closure(self, role_id: str) -> list[str]:
        """`role_id` and every role it implies, transitively, in discovery order."""
        seen, order = {role_id}, [role_id]
        for current in order:
            for nxt in self.implied.get(current, []):
                if nxt not in seen:
                    seen.add(nxt)
                    order.append(nxt)
        return order

    async def members(self, session: AsyncSession, group_id: str) -> list[str]:
        if group_id not in self._members:
            M = models.Membership
            rows = await session.execute(select(M.user_id).where(M.group_id == group_id))
            self._members[group_id] = list(rows.scalars())
        return self._members[group_id]

    async def below(self, session: AsyncSession, scope: str, target_id: str) -> list[str]:
        """The projects an inherited grant on (`scope`, `target_id`) reaches."""
        key = (scope, target_id)
        if key not in self._below:
            if scope == "domain":
                P = models.Project
                rows = await session.execute(select(P.id).where(P.domain_id == target_id))
                self._below[key] = list(rows.scalars())
            else:
                self._below[key] = [p.id for p in await projects.subtree(session, target_id)]
        return self._below[key]

    async def expand(
        self, session: AsyncSession, row: models.Assignment, only_user: str | None = None
    ) -> list[Entry]:
        base = as_entry(row)
        users: list[tuple[str, tuple[str, str] | None]]
        if base.user_id is not None:
            users = [(base.user_id, None)]
        else:
            members = await self.members(session, row.actor_id)
            users = [(u, (row.actor_id, u)) for u in members if only_user in (None, u)]
        scopes = [(base.scope, base.scope_id)]
        if row.inherited:
            scopes = [("project", p) for p in await self.below(session, base.scope, row.target_id)]
        out: list[Entry] = []
        for role_id in self.closure(row.role_id):
            if role_id not in self.global_roles:
                continue
            prior = row.role_id if role_id != row.role_id else None
            for user_id, via in users:
                for scope, scope_id in scopes:
                    out.append(_entry(base, role_id, user_id, scope, scope_id, via, prior))
        return out


def _entry(
    base: Entry,
    role_id: str,
    user_id: str,
    scope: str,
    scope_id: str,
    via: tuple[str, str] | None,
    prior: str | None,
) -> Entry:
    return Entry(
        role_id=role_id,
        scope=scope,
        scope_id=scope_id,
        assignment=base.assignment,
        user_id=user_id,
        membership=via,
        prior_role_id=prior,
    )
