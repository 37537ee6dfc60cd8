"""Instance writes shared by the conductor and the API: the task-state-guarded update and the
soft delete that frees what an instance held.

Called by the conductor's pieces and by `compute.servers`; imports no other conductor module.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from sqlalchemy import ClauseElement, bindparam, delete, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

from overcast.common import trace
from overcast.common.db.base import holds_rows, synced, utcnow
from overcast.compute import records, server_groups, states
from overcast.compute.conductor import rpc
from overcast.compute.models import consoles, instances
from overcast.compute.scheduler import claims

_TIMES = ("launched_at", "terminated_at", "deleted_at")
_FLAVORS = frozenset({"flavor", "new_flavor"})


def _values(values: dict[str, Any]) -> dict[str, Any]:
    """Bus-safe values to column values: timestamps travel as "now" or ISO text."""
    out = dict(values)
    for key in _TIMES:
        if isinstance(out.get(key), str):
            out[key] = utcnow() if out[key] == "now" else dt.datetime.fromisoformat(out[key])
    if "metadata" in out:
        out["metadata_"] = out.pop("metadata")
    return out


def _guarded(
    table: Any, uuid: Any, values: dict[str, Any], expected_task_state: Any, now: Any
) -> Any:
    """The UPDATE of a live instance guarded by its task_state, on `table` (the model for the
    ORM's statement, its table for a plain one), of values or bound parameters."""
    if _FLAVORS & values.keys():
        raise ValueError(f"update_instance cannot change {sorted(_FLAVORS & values.keys())}")
    cols = table if table is instances.Instance else table.c
    stmt = update(table).where(cols.uuid == uuid, cols.deleted.is_(False))
    if expected_task_state != rpc.ANY:
        expected = (
            expected_task_state if isinstance(expected_task_state, list) else [expected_task_state]
        )
        clause: Any = cols.task_state.in_([e for e in expected if e is not None])
        if None in expected:
            clause = clause | cols.task_state.is_(None)
        stmt = stmt.where(clause)
    return stmt.values(**values, updated_at=now)


@functools.cache
def _column_keys() -> dict[str, str]:
    """Instance attribute -> its column's key (`metadata_` is the column `metadata`)."""
    return {p.key: p.columns[0].key for p in inspect(instances.Instance).column_attrs}


@functools.lru_cache(maxsize=256)
def _plain(keys: tuple[str, ...], expected: tuple[Any, ...] | None, returning: bool) -> Any:
    """The guarded UPDATE of these columns on the table, built once (a statement built anew
    costs its construction and its cache key at every execution), with bound parameters
    `b_<column>`, `b_uuid` and `b_now`."""
    c = instances.Instance.__table__.c
    values = {k: bindparam(f"b_{k}", type_=c[k].type) for k in keys}
    stmt = _guarded(
        instances.Instance.__table__,
        bindparam("b_uuid", type_=c.uuid.type),
        values,
        rpc.ANY if expected is None else list(expected),
        bindparam("b_now", type_=c.updated_at.type),
    )
    return stmt.returning(*records.instance_columns()) if returning else stmt


async def _execute(
    session: AsyncSession, uuid: str, values: dict[str, Any], expected: Any, returning: bool
) -> Any:
    """The guarded UPDATE run: a plain one on the table, or the ORM's when the session holds
    instances (which it brings up to date) or a value is a SQL expression."""
    values = _values(values)
    plain = not any(isinstance(v, ClauseElement) for v in values.values())
    if plain and not holds_rows(session, instances.Instance):
        keys = _column_keys()
        params = {f"b_{keys[k]}": v for k, v in values.items()}
        params.update(b_uuid=uuid, b_now=utcnow())
        shape = (
            None
            if expected == rpc.ANY
            else tuple(expected if isinstance(expected, list) else [expected])
        )
        stmt = _plain(tuple(sorted(keys[k] for k in values)), shape, returning)
        return await session.execute(stmt, params)
    stmt = synced(session, _guarded(instances.Instance, uuid, values, expected, utcnow()))
    if returning:
        stmt = stmt.returning(*records.instance_columns())
    return await session.execute(stmt)


async def update_instance(
    session: AsyncSession,
    uuid: str,
    values: dict[str, Any],
    expected_task_state: Any = rpc.ANY,
) -> bool:
    """Change a live instance if its task_state is still as expected; False otherwise.
    Flavors are not changed here: they go through the ORM, which keeps the counted sizes."""
    result = await _execute(session, uuid, values, expected_task_state, False)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def update_and_get(
    session: AsyncSession, uuid: str, values: dict[str, Any]
) -> dict[str, Any] | None:
    """`update_instance` (unguarded), then the instance as the agents are handed it
    (`records.instance_dict`); None when it is not live. One statement where the database
    returns what it updated (PostgreSQL, SQLite), two on MariaDB."""
    if not session.get_bind().dialect.update_returning:
        if not await update_instance(session, uuid, values):
            return None
        inst = await get(session, uuid)
        return None if inst is None else records.instance_dict(inst)
    row = (await _execute(session, uuid, values, rpc.ANY, True)).first()
    return None if row is None else records.instance_dict(row)


def holds(inst: instances.Instance | None, values: dict[str, Any]) -> bool:
    """Whether the live instance already has `values` (a timestamp given as "now": any): a
    guarded update that found its guard gone because it had itself been made already, by the
    first run of a call run again (`redeliverable`)."""
    if inst is None or inst.deleted:
        return False
    for key, value in values.items():
        held = getattr(inst, "metadata_" if key == "metadata" else key)
        if key in _TIMES and isinstance(value, str):
            if held is None:
                return False
        elif held != value:
            return False
    return True


async def get(session: AsyncSession, uuid: str) -> instances.Instance | None:
    """The instance's row, without its tags (what the agents are handed has none: one
    statement fewer)."""
    inst = instances.Instance
    stmt = select(inst).where(inst.uuid == uuid).options(raiseload(inst.tags))
    return (await session.execute(stmt)).scalar_one_or_none()


async def to_error(session: AsyncSession, uuid: str, fault: dict[str, Any]) -> None:
    trace.event("ERROR", error=str(fault.get("message") or "error"))
    await update_instance(
        session, uuid, {"vm_state": states.ERROR, "task_state": None, "fault": fault}
    )


async def destroy_record(session: AsyncSession, uuid: str, on_host: Any = rpc.ANY) -> bool:
    """Soft-delete the instance row and release everything counted against it; with
    `on_host` (a host, or None for none) only if it is still there: False when the
    conductor placed it elsewhere since (or it is gone)."""
    now = utcnow()
    inst = instances.Instance
    where = [inst.uuid == uuid, inst.deleted.is_(False)]
    if on_host != rpc.ANY:
        where.append(inst.host.is_(None) if on_host is None else inst.host == on_host)
    result = await session.execute(
        synced(
            session,
            update(inst)
            .where(*where)
            .values(
                deleted=True,
                vm_state=states.DELETED,
                task_state=None,
                power_state=states.NOSTATE,
                terminated_at=now,
                deleted_at=now,
                updated_at=now,
            ),
        )
    )
    if on_host != rpc.ANY and not result.rowcount:  # type: ignore[attr-defined]
        return False
    await claims.release(session, uuid)
    mig = instances.Migration
    for (migration_uuid,) in (
        await session.execute(select(mig.uuid).where(mig.instance_uuid == uuid))
    ).all():
        await claims.release(session, migration_uuid)
    await server_groups.remove_member(session, uuid)
    # Its console URLs open nothing any more (Nova's clean_console_auths_for_instance).
    tokens = consoles.ConsoleAuthToken
    await session.execute(delete(tokens).where(tokens.instance_uuid == uuid))
    return True
