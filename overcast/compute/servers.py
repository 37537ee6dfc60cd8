"""Servers as records: finding one the caller may see, listing with Nova's filters, updating
and deleting. Called by the servers API and its sub-resources (metadata, tags, actions).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, String, cast, exists, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.db.base import utcnow
from overcast.compute import conductor, records, states, teardown
from overcast.compute.models import hosts
from overcast.compute.models.instances import Instance, InstanceTag
from overcast.compute.state import ComputeState

TRUE = ("1", "t", "true", "on", "y", "yes", "")
FALSE = ("0", "f", "false", "off", "n", "no")

SORT_KEYS = {
    "access_ip_v4",
    "access_ip_v6",
    "availability_zone",
    "config_drive",
    "created_at",
    "display_description",
    "display_name",
    "host",
    "hostname",
    "image_ref",
    "key_name",
    "launch_index",
    "launched_at",
    "locked_by",
    "node",
    "power_state",
    "progress",
    "project_id",
    "root_device_name",
    "task_state",
    "terminated_at",
    "updated_at",
    "user_id",
    "uuid",
    "vm_state",
}


_NOT_SHOWN = (
    "request_spec",
    "network_info",
    "block_device_mapping",
    "requested_networks",
    "key_data",
    "old_flavor",
    "new_flavor",
)


def not_found(uuid: str) -> errors.NotFound:
    return errors.NotFound(f"Instance {uuid} could not be found.")


async def get(
    session: AsyncSession, ctx: RequestContext, uuid: str, *, deleted: bool = False
) -> Instance:
    """The instance `uuid` if the caller's project owns it (admins: any); 404 otherwise."""
    stmt = select(Instance).where(Instance.uuid == uuid)
    if not deleted:
        stmt = stmt.where(Instance.deleted.is_(False))
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None or (not ctx.is_admin and found.project_id != ctx.project_id):
        raise not_found(uuid)
    return found


def parse_time(value: str, field: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError as exc:
        raise errors.BadRequest(f"Invalid filter field: {field}.") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def parse_bool(value: str, field: str) -> bool:
    """A boolean filter as Nova reads it (strictly): anything else is a 400."""
    text = value.strip().lower()
    if text not in TRUE and text not in FALSE:
        raise errors.BadRequest(f"Invalid value '{value}' for {field}: not a boolean.")
    return text in TRUE


def _regex(text: str) -> str:
    """The server list's `name` filter is a regular expression, as in Nova (REGEXP on SQLite and
    MariaDB, `~` on PostgreSQL); one that does not compile is the caller's error."""
    try:
        re.compile(text)
    except re.error as exc:
        raise errors.BadRequest(f"Invalid regular expression for name: {text}") from exc
    return text


def _tags(value: str) -> list[str]:
    return [t for t in value.split(",") if t]


def _has_tag(tag: str) -> Any:
    return exists().where(InstanceTag.instance_uuid == Instance.uuid, InstanceTag.tag == tag)


def filtered(
    ctx: RequestContext,
    params: dict[str, str],
    *,
    all_tenants: bool,
    admin_filters: bool,
    strict_status: bool,
) -> Select[Any]:
    """A select of the instances `params` asks for (Nova's list filters). The columns no view
    shows (request spec, network info, ...) are not loaded: lists of thousands stay fast."""
    inst = Instance
    stmt = select(inst).options(*(defer(getattr(inst, c)) for c in _NOT_SHOWN))
    project = params.get("project_id") or params.get("tenant_id")
    if not all_tenants:
        stmt = stmt.where(inst.project_id == ctx.project_id)
    elif project:
        stmt = stmt.where(inst.project_id == project)
    deleted = params.get("deleted")
    if deleted is not None and ctx.is_admin:
        stmt = stmt.where(inst.deleted.is_(parse_bool(deleted, "deleted")))
    elif "changes-since" not in params:
        stmt = stmt.where(inst.deleted.is_(False))
    if "status" in params:
        found = states.filter_states(params["status"])
        if found is None:
            if strict_status:
                raise errors.BadRequest(f"Invalid status value: {params['status']}")
            return stmt.where(False)  # type: ignore[arg-type]
        vm_states, task_states = found
        stmt = stmt.where(inst.vm_state.in_(vm_states))
        if task_states is not None:
            stmt = stmt.where(inst.task_state.in_(task_states))
    if "name" in params:
        stmt = stmt.where(inst.display_name.regexp_match(_regex(params["name"])))
    if "image" in params:
        stmt = stmt.where(inst.image_ref == params["image"].rstrip("/").rsplit("/", 1)[-1])
    if "flavor" in params:
        flavor = params["flavor"].rstrip("/").rsplit("/", 1)[-1]
        stmt = stmt.where(inst.flavor["id"].as_string() == flavor)
    if "changes-since" in params:
        stmt = stmt.where(inst.updated_at >= parse_time(params["changes-since"], "changes-since"))
    if "changes-before" in params:
        stmt = stmt.where(inst.updated_at <= parse_time(params["changes-before"], "changes-before"))
    for key in ("ip", "ip6"):
        if key in params:
            stmt = stmt.where(cast(inst.addresses, String).like(f'%"addr": "{params[key]}%'))
    for key, column in (("reservation_id", inst.reservation_id), ("uuid", inst.uuid)):
        if key in params:
            stmt = stmt.where(column == params[key])
    if "tags" in params:
        for tag in _tags(params["tags"]):
            stmt = stmt.where(_has_tag(tag))
    if "tags-any" in params:
        stmt = stmt.where(or_(*(_has_tag(t) for t in _tags(params["tags-any"]))))
    if "not-tags" in params:
        stmt = stmt.where(not_(_and_tags(_tags(params["not-tags"]))))
    if "not-tags-any" in params:
        stmt = stmt.where(not_(or_(*(_has_tag(t) for t in _tags(params["not-tags-any"])))))
    if "locked" in params:
        stmt = stmt.where(inst.locked.is_(parse_bool(params["locked"], "locked")))
    if admin_filters:
        stmt = _admin_filters(stmt, params)
    return stmt


def _and_tags(tags: list[str]) -> Any:
    from sqlalchemy import and_

    return and_(*(_has_tag(t) for t in tags))


def _admin_filters(stmt: Select[Any], params: dict[str, str]) -> Select[Any]:
    inst = Instance
    columns = {
        "host": inst.host,
        "node": inst.node,
        "availability_zone": inst.availability_zone,
        "key_name": inst.key_name,
        "user_id": inst.user_id,
        "hostname": inst.hostname,
        "vm_state": inst.vm_state,
        "task_state": inst.task_state,
        "description": inst.display_description,
    }
    for key, column in columns.items():
        if key in params:
            stmt = stmt.where(column == params[key])
    for key, number in (("power_state", inst.power_state), ("progress", inst.progress)):
        if key in params:
            try:
                stmt = stmt.where(number == int(params[key]))
            except ValueError as exc:
                raise errors.BadRequest(f"Invalid filter field: {key}.") from exc
    if "config_drive" in params:
        stmt = stmt.where(
            inst.config_drive
            == ("True" if parse_bool(params["config_drive"], "config_drive") else "")
        )
    for key, moment in (
        ("created_at", inst.created_at),
        ("launched_at", inst.launched_at),
        ("terminated_at", inst.terminated_at),
    ):
        if key in params:
            stmt = stmt.where(moment >= parse_time(params[key], key))
    return stmt


async def host_status(
    session: AsyncSession, down_after: float, names: Iterable[str | None]
) -> dict[str, str]:
    """The status of each of these compute hosts as 2.16's `host_status` shows it (one query
    for the hosts asked about: a cloud may have thousands)."""
    wanted = sorted({n for n in names if n})
    if not wanted:
        return {}
    now = utcnow()
    out = {}
    svc = hosts.Service
    rows = await session.execute(
        select(svc.host, svc.last_seen_up, svc.forced_down, svc.disabled).where(
            svc.binary == "nova-compute", svc.host.in_(wanted)
        )
    )
    for host, seen, forced_down, disabled in rows.all():
        up = seen is not None and (now - seen).total_seconds() <= down_after
        if forced_down or not up:
            out[host] = "DOWN"
        elif disabled:
            out[host] = "MAINTENANCE"
        else:
            out[host] = "UP"
    return out


def check_not_locked(inst: Instance, ctx: RequestContext) -> None:
    """A locked server refuses every change but from an admin (409, as Nova)."""
    if inst.locked and not ctx.is_admin:
        raise errors.Conflict(f"Instance {inst.uuid} is locked")


async def delete(st: ComputeState, ctx: RequestContext, uuid: str, action: str = "delete") -> None:
    """Delete a server: on its host through the agent, or here when it has no live host (its
    ports, volumes and shelved image released from here too, outside the transaction)."""
    async with st.db.session() as session:
        inst = await get(session, ctx, uuid)
        check_not_locked(inst, ctx)
        await records.start_action(session, ctx.to_dict(), uuid, action)
        host = inst.host
        down = await host_status(session, st.settings.compute.service_down_time, [host])
        local = host is None or down.get(host) == "DOWN"
        if not local:
            await conductor.update_instance(session, uuid, {"task_state": states.DELETING})
        held = (inst.network_info or [], inst.attachments or [], inst.system_metadata or {})
    if local:
        await teardown.release(st.remote, ctx.to_dict(), *held)
        async with st.db.session() as session:
            if await conductor.destroy_record(session, uuid, on_host=host):
                await records.event_finish(session, ctx.to_dict(), uuid, "api_local_delete")
                return
            # The conductor placed it on a host since it was read: it is deleted there.
            host = (await get(session, ctx, uuid)).host
            await conductor.update_instance(session, uuid, {"task_state": states.DELETING})
    try:
        await st.bus.cast(
            conductor.agent(host or ""), "terminate_instance", ctx.to_dict(), instance_uuid=uuid
        )
    except errors.ServiceUnavailable:  # the host's agent is gone: delete the record here
        async with st.db.session() as session:
            await conductor.destroy_record(session, uuid)
