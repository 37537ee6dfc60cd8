"""Network quotas: defaults from the settings, per-project overrides, usage counted from the
rows that exist. `check` runs in the transaction that then writes the new rows; it first bumps
the project's lock row, so concurrent creates of one project count and write one at a time."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.network import faults
from overcast.network.models import (
    FloatingIP,
    Network,
    Port,
    ProjectLock,
    Quota,
    RBACPolicy,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    SubnetPool,
)

COUNTED: dict[str, Any] = {
    "network": Network,
    "subnet": Subnet,
    "subnetpool": SubnetPool,
    "port": Port,
    "router": Router,
    "floatingip": FloatingIP,
    "security_group": SecurityGroup,
    "security_group_rule": SecurityGroupRule,
    "rbac_policy": RBACPolicy,
}


_LIMITS = select(Quota.resource, Quota.hard_limit).where(
    Quota.project_id == bindparam("project_id")
)  # built once: every create asks


async def limits(
    session: AsyncSession, defaults: dict[str, int], project_id: str
) -> dict[str, int]:
    values = {k: v for k, v in defaults.items() if k in COUNTED}
    rows = await session.execute(_LIMITS, {"project_id": project_id})
    values.update({resource: limit for resource, limit in rows if resource in values})
    return values


def own_limit(resource: str) -> Any:
    """The project's own limit of `resource` (NULL: none, the default holds) as a column of
    another statement, with `project_id` bound: a create reads it with its other reads."""
    return (
        select(Quota.hard_limit)
        .where(Quota.project_id == bindparam("project_id"), Quota.resource == resource)
        .scalar_subquery()
    )


def limit_of(defaults: dict[str, int], resource: str, own: int | None) -> int:
    """The limit of `resource` a project with its own limit `own` (None: none) has."""
    return defaults[resource] if own is None else own


async def used(session: AsyncSession, resource: str, project_id: str) -> int:
    model = COUNTED[resource]
    count = await session.scalar(
        select(func.count()).select_from(model).where(model.project_id == project_id)
    )
    return int(count or 0)


async def lock(session: AsyncSession, project_id: str) -> None:
    """Take the project's quota lock for the rest of the transaction."""
    result = await session.execute(
        update(ProjectLock)
        .where(ProjectLock.project_id == project_id)
        .values(serial=ProjectLock.serial + 1)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(ProjectLock(project_id=project_id, serial=1))
        await session.flush()


async def check(
    session: AsyncSession,
    defaults: dict[str, int],
    resource: str,
    project_id: str,
    count: int = 1,
    limit: int | None = None,
) -> None:
    """409 OverQuota unless `project_id` may have `count` more of `resource`; `limit` is its
    limit when the caller read it (`own_limit`, `limit_of`), else it is read here."""
    if limit is None:
        limit = (await limits(session, defaults, project_id))[resource]
    if limit < 0:
        return
    await lock(session, project_id)
    if await used(session, resource, project_id) + count > limit:
        raise faults.over_quota(resource)


async def set_limits(session: AsyncSession, project_id: str, values: dict[str, int]) -> None:
    for resource, limit in values.items():
        row = await session.get(Quota, (project_id, resource))
        if row is None:
            session.add(Quota(project_id=project_id, resource=resource, hard_limit=limit))
        else:
            row.hard_limit = limit


async def reset(session: AsyncSession, project_id: str) -> None:
    for row in (
        await session.execute(select(Quota).where(Quota.project_id == project_id))
    ).scalars():
        await session.delete(row)


async def usage(session: AsyncSession, project_id: str) -> dict[str, int]:
    return {resource: await used(session, resource, project_id) for resource in COUNTED}


def defaults(configured: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in configured.items() if k in COUNTED}


async def overridden(
    session: AsyncSession, configured: dict[str, int]
) -> dict[str, dict[str, int]]:
    """The limits of every project that has an override."""
    projects = set(await session.scalars(select(Quota.project_id)))
    return {p: await limits(session, configured, p) for p in sorted(projects)}


async def check_limits(session: AsyncSession, project_id: str, values: dict[str, int]) -> None:
    """400 InvalidQuotaValue when a new limit is below what the project already uses."""
    for resource, limit in values.items():
        in_use = await used(session, resource, project_id)
        if 0 <= limit < in_use:
            raise faults.bad(
                f"Quota limit {limit} for {resource} must be greater than or equal to already"
                f" used and reserved {in_use}.",
                "InvalidQuotaValue",
            )
