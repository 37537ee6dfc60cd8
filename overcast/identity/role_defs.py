"""Role definitions: global and domain-specific roles, and the rules that one role implies
another. (`roles.py` computes what a user effectively holds; this module edits the roles.)

Called by `api/roles.py` inside a session; deleting a role or an implication changes what
tokens carry, so the caller announces it after the commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.identity import cascade, lookup, models, options

OWN = {"name", "description", "domain_id", "options"}
IGNORED = {"id", "links"}
PROHIBITED_IMPLIED = ("admin",)  # Keystone's [assignment] prohibited_implied_role


def _extra(current: dict[str, Any] | None, values: dict[str, Any]) -> dict[str, Any]:
    extra = dict(current or {})
    extra.update({k: v for k, v in values.items() if k not in OWN and k not in IGNORED})
    return extra


async def create(session: AsyncSession, values: dict[str, Any]) -> models.Role:
    domain_id = values.get("domain_id") or models.GLOBAL
    if domain_id != models.GLOBAL:
        await lookup.get(session, models.Domain, domain_id)
    name = values["name"]
    await lookup.ensure_unique(session, models.Role, name, domain_id)
    role = models.Role(
        name=name,
        domain_id=domain_id,
        description=values.get("description"),
        options=options.merge({}, values.get("options"), options.RESOURCE),
        extra=_extra({}, values),
    )
    session.add(role)
    await lookup.flush(session, "role", name, domain_id or None)
    return role


async def update(session: AsyncSession, role: models.Role, values: dict[str, Any]) -> None:
    lookup.check_mutable(role, "role", values)
    if (values.get("domain_id") or models.GLOBAL) != role.domain_id and "domain_id" in values:
        raise errors.BadRequest("Update of `domain_id` is not allowed.")
    name = values.get("name")
    if name is not None and name != role.name:
        await lookup.ensure_unique(session, models.Role, name, role.domain_id, role.id)
        role.name = name
    if "description" in values:
        role.description = values["description"]
    if "options" in values:
        role.options = options.merge(role.options, values["options"], options.RESOURCE)
    role.extra = _extra(role.extra, values)
    await lookup.flush(session, "role", role.name, role.domain_id or None)


async def delete(session: AsyncSession, role: models.Role) -> None:
    lookup.check_mutable(role, "role")
    await cascade.forget_role(session, role.id)
    await session.delete(role)


async def _implied_ids(session: AsyncSession, prior_id: str) -> list[str]:
    rows = await session.execute(
        select(models.ImpliedRole.implied_role_id).where(
            models.ImpliedRole.prior_role_id == prior_id
        )
    )
    return list(rows.scalars())


async def _reaches(session: AsyncSession, start: str, goal: str) -> bool:
    """Whether `start` implies `goal`, directly or through other roles."""
    seen, frontier = {start}, [start]
    while frontier:
        nxt: list[str] = []
        for role_id in frontier:
            for implied in await _implied_ids(session, role_id):
                if implied == goal:
                    return True
                if implied not in seen:
                    seen.add(implied)
                    nxt.append(implied)
        frontier = nxt
    return False


async def imply(session: AsyncSession, prior_id: str, implied_id: str) -> tuple[Any, Any]:
    """Make `prior` imply `implied` (idempotent); refuses loops and prohibited roles."""
    prior = await lookup.get(session, models.Role, prior_id)
    implied = await lookup.get(session, models.Role, implied_id)
    if implied.domain_id != models.GLOBAL and prior.domain_id == models.GLOBAL:
        # A domain's roles may imply any role (their own domain's, another's, global ones);
        # a global role may not imply a role that exists in one domain only.
        raise errors.Forbidden(
            f"Global role {prior_id} cannot imply the domain-specific role {implied_id}."
        )
    if implied.name in PROHIBITED_IMPLIED:
        raise errors.Forbidden(f"{implied.name} role cannot be an implied role.")
    if prior_id == implied_id or await _reaches(session, implied_id, prior_id):
        raise errors.Forbidden(
            f"Role {prior_id} implying role {implied_id} would make a loop of implied roles."
        )
    if await session.get(models.ImpliedRole, (prior_id, implied_id)) is None:
        session.add(models.ImpliedRole(prior_role_id=prior_id, implied_role_id=implied_id))
        await lookup.flush_once(session, "implied role")
    return prior, implied


async def get_implication(session: AsyncSession, prior_id: str, implied_id: str) -> Any:
    prior = await lookup.get(session, models.Role, prior_id)
    implied = await lookup.get(session, models.Role, implied_id)
    row = await session.get(models.ImpliedRole, (prior_id, implied_id))
    if row is None:
        raise errors.NotFound(f"{prior_id} does not imply {implied_id}.")
    return prior, implied, row


async def implied_by(session: AsyncSession, prior_id: str) -> tuple[Any, list[Any]]:
    """The role and the roles it directly implies."""
    prior = await lookup.get(session, models.Role, prior_id)
    ids = await _implied_ids(session, prior_id)
    if not ids:
        return prior, []
    rows = await session.execute(select(models.Role).where(models.Role.id.in_(ids)))
    return prior, sorted(rows.scalars(), key=lambda r: r.name)


async def all_implications(session: AsyncSession) -> list[tuple[Any, list[Any]]]:
    rows = (await session.execute(select(models.ImpliedRole))).scalars().all()
    roles = {r.id: r for r in (await session.execute(select(models.Role))).scalars()}
    by_prior: dict[str, list[Any]] = {}
    for row in rows:
        by_prior.setdefault(row.prior_role_id, []).append(roles[row.implied_role_id])
    return [(roles[p], sorted(i, key=lambda r: r.name)) for p, i in sorted(by_prior.items())]
