"""Writing down what happens to instances: actions and their events, faults, and the plain-dict
form of an instance that travels over the bus to the agents.

Called by the API (an action per request), the conductor (events on behalf of itself, the
scheduler and the agents) and the reconciler.
"""

from __future__ import annotations

import datetime as dt
import functools
import traceback as tb
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import trace
from overcast.common.db.base import holds_rows, synced, utcnow
from overcast.compute.models import actions, instances

# Instance fields an agent needs (and may be handed over the bus).
AGENT_FIELDS = (
    "uuid",
    "display_name",
    "hostname",
    "project_id",
    "user_id",
    "image_ref",
    "flavor",
    "old_flavor",
    "new_flavor",
    "vm_state",
    "task_state",
    "power_state",
    "host",
    "node",
    "availability_zone",
    "key_name",
    "key_data",
    "user_data",
    "config_drive",
    "system_metadata",
    "requested_networks",
    "addresses",
    "network_info",
    "attachments",
    "block_device_mapping",
    "security_groups",
    "request_spec",
    "deleted",
    "reservation_id",
    "launch_index",
)


def iso(value: dt.datetime | None) -> str | None:
    """Nova's timestamp form: `2024-01-02T03:04:05.123456` (UTC, no offset)."""
    if value is None:
        return None
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(dt.UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds")


@functools.cache
def instance_columns() -> tuple[Any, ...]:
    """The columns `instance_dict` reads, labelled by attribute: a row of them (an UPDATE's
    RETURNING, say) makes the same dict as the ORM row."""
    i = instances.Instance
    names = (*AGENT_FIELDS, "id", "metadata_", "launched_at")
    return tuple(getattr(i, name).label(name) for name in names)


def instance_dict(inst: instances.Instance | Any) -> dict[str, Any]:
    """What the agents are handed of an instance: its ORM row, or a row of `instance_columns`."""
    out = {name: getattr(inst, name) for name in AGENT_FIELDS}
    out["name"] = instances.instance_name(inst.id)
    out["metadata"] = dict(inst.metadata_ or {})
    out["launched_at"] = iso(inst.launched_at)
    return out


def fault(exc: BaseException | str, code: int = 500, details: str | None = None) -> dict[str, Any]:
    """The `fault` an instance in ERROR shows."""
    message = exc if isinstance(exc, str) else (getattr(exc, "message", None) or str(exc))
    if not isinstance(exc, str):
        code = int(getattr(exc, "status", code) or code)
        if details is None:
            details = "".join(tb.format_exception(type(exc), exc, exc.__traceback__))[-4000:]
    return {
        "code": code,
        "message": str(message)[:255],
        "details": details or "",
        "created": iso(utcnow()),
    }


async def start_action(
    session: AsyncSession, ctx: dict[str, Any], instance_uuid: str, action: str
) -> actions.InstanceAction:
    """Record that `ctx`'s request began `action` on the instance (and trace the request)."""
    row = new_action(ctx, instance_uuid, action)
    session.add(row)
    return row


def new_action(ctx: dict[str, Any], instance_uuid: str, action: str) -> actions.InstanceAction:
    """The row saying that `ctx`'s request began `action` on the instance, to be added to a
    session; the current trace (the request's) is linked to the instance."""
    trace.link("server", instance_uuid, action, ctx.get("request_id"), ctx.get("project_id"))
    return actions.InstanceAction(
        action=action,
        instance_uuid=instance_uuid,
        request_id=ctx.get("request_id") or "",
        user_id=ctx.get("user_id"),
        project_id=ctx.get("project_id"),
    )


# (instance uuid, request id) -> action id. An action row never changes its id, so the
# events of one request (several per boot) look it up once per process.
_ACTIONS: dict[tuple[str, str], int] = {}


def known_actions(ctx: dict[str, Any], ids: dict[str, int]) -> None:
    """The action ids of `ctx`'s request by instance, as the process that wrote them handed
    them on (a boot's cast to the conductor): its events need not look them up."""
    request_id = ctx.get("request_id") or ""
    if len(_ACTIONS) + len(ids) > 20000:
        _ACTIONS.clear()
    for instance_uuid, action_id in ids.items():
        _ACTIONS[(instance_uuid, request_id)] = int(action_id)


async def _action(session: AsyncSession, instance_uuid: str, request_id: str) -> int | None:
    key = (instance_uuid, request_id)
    found = _ACTIONS.get(key)
    if found is not None:
        return found
    a = actions.InstanceAction
    stmt = (
        select(a.id)
        .where(a.instance_uuid == instance_uuid, a.request_id == request_id)
        .order_by(a.id.desc())
        .limit(1)
    )
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is not None:
        if len(_ACTIONS) > 20000:
            _ACTIONS.clear()
        _ACTIONS[key] = found
    return found


# The statements of an event, built once (their parameters vary, not their shape): plain
# statements on the tables cost about half of what the ORM's unit of work and bulk-update
# paths do, several times per boot. A session that holds rows of a table has them brought up
# to date by the ORM's statement instead (`holds_rows`).
_EVENT = actions.InstanceActionEvent.__table__
_ACTION = actions.InstanceAction.__table__
_ADD_EVENT = insert(_EVENT)
_FINISH_EVENT = (
    update(_EVENT)
    .where(
        _EVENT.c.action_id == bindparam("b_action"),
        _EVENT.c.event == bindparam("b_event"),
        _EVENT.c.finish_time.is_(None),
    )
    .values(
        finish_time=bindparam("b_finish"),
        result=bindparam("b_result"),
        traceback=bindparam("b_traceback"),
        details=bindparam("b_details"),
    )
)
_TOUCH_ACTION = (
    update(_ACTION)
    .where(_ACTION.c.id == bindparam("b_action"))
    .values(updated_at=bindparam("b_now"))
)


async def _add_event(
    session: AsyncSession,
    action_id: int,
    event: str,
    host: str | None,
    start: dt.datetime,
    finish: dt.datetime | None = None,
    result: str | None = None,
    traceback: str | None = None,
    details: str | None = None,
) -> None:
    row = {
        "action_id": action_id,
        "event": event,
        "host": host,
        "start_time": start,
        "finish_time": finish,
        "result": result,
        "traceback": traceback,
        "details": details,
    }
    await session.execute(_ADD_EVENT, row)


async def _touch(
    session: AsyncSession, action_id: int, now: dt.datetime, message: str | None = None
) -> None:
    """The action changed now (an event of it started or ended), failed if `message`."""
    a = actions.InstanceAction
    if message is None and not holds_rows(session, a):
        await session.execute(_TOUCH_ACTION, {"b_action": action_id, "b_now": now})
        return
    values: dict[str, Any] = {"updated_at": now}
    if message is not None:
        values["message"] = message
    await session.execute(synced(session, update(a).where(a.id == action_id).values(values)))


async def event_start(
    session: AsyncSession,
    ctx: dict[str, Any],
    instance_uuid: str,
    event: str,
    host: str | None = None,
    start: dt.datetime | None = None,
) -> None:
    action_id = await _action(session, instance_uuid, ctx.get("request_id") or "")
    if action_id is None:
        return
    now = utcnow()
    await _add_event(session, action_id, event, host, start or now)
    await _touch(session, action_id, now)


async def event_finish(
    session: AsyncSession,
    ctx: dict[str, Any],
    instance_uuid: str,
    event: str,
    result: str = "Success",
    traceback: str | None = None,
    details: str | None = None,
    host: str | None = None,
    start: dt.datetime | None = None,
    then: tuple[str, str | None] | None = None,
) -> None:
    """Finish the unfinished `event` of the request (one UPDATE: a request runs one of each
    name at a time), or write it whole when there is none. With `start`, the event is a
    one-shot written whole (it was never started). `then` = (event, host): start that event
    of the request too, the action touched once for both."""
    action_id = await _action(session, instance_uuid, ctx.get("request_id") or "")
    if action_id is None:
        return
    e = actions.InstanceActionEvent
    now = utcnow()
    done = {"finish_time": now, "result": result, "traceback": traceback, "details": details}
    finished = 0
    if start is None:
        if holds_rows(session, e):
            stmt = (
                update(e)
                .where(e.action_id == action_id, e.event == event, e.finish_time.is_(None))
                .values(done)
            )
            finished = (await session.execute(synced(session, stmt))).rowcount  # type: ignore[attr-defined]
        else:
            params = {"b_action": action_id, "b_event": event, "b_finish": now}
            params.update(b_result=result, b_traceback=traceback, b_details=details)
            finished = (await session.execute(_FINISH_EVENT, params)).rowcount  # type: ignore[attr-defined]
    if not finished:
        await _add_event(
            session, action_id, event, host, start or now, now, result, traceback, details
        )
    if then is not None:
        await _add_event(session, action_id, then[0], then[1], now)
    await _touch(session, action_id, now, None if result == "Success" else "Error")
