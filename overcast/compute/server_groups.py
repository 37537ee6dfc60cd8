"""Server groups: create, find, list and delete them; build the scheduler's view of one.

Called by `compute.api.server_groups`, and by the servers API at boot: `instance_group` turns a
`group` scheduler hint into the request spec's `instance_group`, `add_members` records the new
servers in it, `remove_member` forgets a deleted one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.compute import quotas
from overcast.compute.models.instances import Instance
from overcast.compute.models.server_groups import ServerGroup, ServerGroupMember

POLICIES = ("affinity", "anti-affinity")
SOFT_POLICIES = ("soft-affinity", "soft-anti-affinity")  # from microversion 2.15


def not_found(group_uuid: str) -> errors.NotFound:
    return errors.NotFound(f"Instance group {group_uuid} could not be found.")


def validate_rules(policy: str, rules: dict[str, Any]) -> dict[str, Any]:
    """Nova 2.64's rules: only anti-affinity takes one, `max_server_per_host` >= 1."""
    if not rules:
        return {}
    if policy != "anti-affinity":
        raise errors.BadRequest("Only anti-affinity policy supports rules.")
    unknown = sorted(set(rules) - {"max_server_per_host"})
    if unknown:
        raise errors.BadRequest(
            f"Invalid input for field/attribute rules. Additional properties are not allowed "
            f"({', '.join(repr(u) for u in unknown)} was unexpected)"
        )
    value = rules["max_server_per_host"]
    ok = isinstance(value, int) and not isinstance(value, bool)
    if isinstance(value, str) and value.isdigit():
        value, ok = int(value), True
    if not ok or value < 1:
        raise errors.BadRequest(
            "Invalid input for field/attribute max_server_per_host. Value: "
            f"{rules['max_server_per_host']}. must be a positive integer"
        )
    return {"max_server_per_host": value}


async def create(
    session: AsyncSession,
    project_id: str,
    user_id: str,
    name: str,
    policy: str,
    rules: dict[str, Any] | None = None,
) -> ServerGroup:
    """A new group of `project_id`; Forbidden (403) once the server_groups quota is used up."""
    rules = validate_rules(policy, rules or {})
    try:
        await quotas.reserve(session, project_id, user_id, {"server_groups": 1})
    except quotas.QuotaExceeded as exc:
        raise quotas.QuotaExceeded("Quota exceeded, too many server groups.") from exc
    group = ServerGroup(
        name=name, project_id=project_id, user_id=user_id, policy=policy, rules=rules, members=[]
    )
    session.add(group)
    await session.flush()
    return group


async def get(session: AsyncSession, group_uuid: str, project_id: str | None = None) -> ServerGroup:
    """The group `group_uuid`; NotFound if it does not exist or (when `project_id` is given)
    belongs to another project."""
    group = await session.get(ServerGroup, group_uuid)
    if group is None or (project_id is not None and group.project_id != project_id):
        raise not_found(group_uuid)
    return group


async def list_groups(
    session: AsyncSession, project_id: str | None, *, limit: int | None, offset: int
) -> list[ServerGroup]:
    """Groups of `project_id` (every project's when None), oldest first."""
    stmt = select(ServerGroup).order_by(ServerGroup.created_at, ServerGroup.uuid)
    if project_id is not None:
        stmt = stmt.where(ServerGroup.project_id == project_id)
    stmt = stmt.offset(offset).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def delete(session: AsyncSession, group: ServerGroup) -> None:
    await session.delete(group)


async def live_members(session: AsyncSession, group_uuid: str) -> list[tuple[str, str | None]]:
    """(instance uuid, host) of the group's members whose instances are not deleted."""
    stmt = (
        select(ServerGroupMember.instance_uuid, Instance.host)
        .join(Instance, Instance.uuid == ServerGroupMember.instance_uuid)
        .where(ServerGroupMember.group_uuid == group_uuid, Instance.deleted.is_(False))
        .order_by(ServerGroupMember.created_at)
    )
    return [(u, h) for u, h in (await session.execute(stmt)).all()]


async def instance_group(
    session: AsyncSession, group_uuid: str, project_id: str | None = None
) -> dict[str, Any]:
    """The request spec's `instance_group` for a `group` hint: {uuid, policy, rules, members,
    hosts}. A group that does not exist (or is another project's) is a BadRequest, as Nova
    answers a boot with a bad group hint."""
    try:
        group = await get(session, group_uuid, project_id)
    except errors.NotFound as exc:
        raise errors.BadRequest(exc.message) from exc
    members = await live_members(session, group_uuid)
    hosts = sorted({h for _, h in members if h})
    return {
        "uuid": group.uuid,
        "name": group.name,
        "policy": group.policy,
        "rules": dict(group.rules or {}),
        "members": [u for u, _ in members],
        "hosts": hosts,
    }


async def add_members(
    session: AsyncSession, group_uuid: str, project_id: str, instance_uuids: list[str]
) -> None:
    """Make new instances members of a group, within the server_group_members quota (403
    "Quota exceeded, too many servers in group" beyond it)."""
    await quotas.lock_project(session, project_id)
    count = len(await live_members(session, group_uuid))
    allowed = (await quotas.limits(session, project_id)).get("server_group_members", -1)
    if 0 <= allowed < count + len(instance_uuids):
        raise quotas.QuotaExceeded("Quota exceeded, too many servers in group")
    for uuid in instance_uuids:
        session.add(ServerGroupMember(group_uuid=group_uuid, instance_uuid=uuid))
    await session.flush()


async def remove_member(session: AsyncSession, instance_uuid: str) -> None:
    """Forget a deleted instance's membership; nothing happens if it had none."""
    member = await session.get(ServerGroupMember, instance_uuid)
    if member is not None:
        await session.delete(member)
