"""Plain inserts where the ORM's unit of work costs more than the statement: one that yields
to an existing key instead of failing the transaction, and a new ORM object written at once."""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from sqlalchemy import insert
from sqlalchemy import inspect as inspect_mapped
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

M = TypeVar("M")


@functools.cache
def insert_ignoring(dialect: str, model: Any) -> Any:
    """An insert of `model` rows that skips a row whose primary key exists, on `dialect`
    (one statement per model, built once: its rows come as execution parameters)."""
    if dialect == "sqlite":
        return sqlite.insert(model).on_conflict_do_nothing()
    if dialect == "postgresql":
        return postgresql.insert(model).on_conflict_do_nothing()
    # MariaDB/MySQL: IGNORE also skips a duplicate key, and nothing else is at risk here
    return insert(model).prefix_with("IGNORE")


async def insert_new(session: AsyncSession, model: Any, values: dict[str, Any]) -> bool:
    """Insert one row of `model` unless a row with its primary key exists; whether it did.

    One statement where a look-up then an insert would be two; a key held by a concurrent
    transaction waits for it (PostgreSQL, MariaDB) rather than failing at commit."""
    stmt = insert_ignoring(session.get_bind().dialect.name, model.__table__)
    result = await session.execute(stmt, values)  # the table's: a plain insert, not the ORM's
    return bool(result.rowcount)  # type: ignore[attr-defined]


@functools.cache
def _columns(model: Any) -> tuple[Any, Any, tuple[tuple[str, str, Any], ...]]:
    """`model`'s class manager, its plain insert, and (attribute, column key, column) of
    each mapped column."""
    mapper = inspect_mapped(model)
    columns = tuple((p.key, p.columns[0].key, p.columns[0]) for p in mapper.column_attrs)
    return mapper.class_manager, insert(mapper.local_table), columns


async def insert_row(session: AsyncSession, model: type[M], **values: Any) -> M:
    """A new `model` object with `values` (by attribute; column defaults for the rest),
    written now with one plain INSERT and attached to `session` as a loaded row (later
    changes to it flush as updates, as usual).

    A unit-of-work flush of one row costs several times its statement, and so does setting
    each attribute of a new object through the ORM's events: the object is made bare and its
    values put in its state whole. A column whose default only the database knows
    (`server_default`) must be given."""
    manager, stmt, columns = _columns(model)  # type: ignore[arg-type]  # a class: hashable
    row: M = manager.new_instance()
    state: dict[str, Any] = row.__dict__
    params: dict[str, Any] = {}
    given = 0
    for attr, column_key, column in columns:
        if attr in values:
            value, given = values[attr], given + 1
        else:
            value = _default(column)
        state[attr] = params[column_key] = value
    if given != len(values):
        unknown = set(values) - {attr for attr, _key, _column in columns}
        raise TypeError(f"{model.__name__} has no column attribute {sorted(unknown)}")
    await session.execute(stmt, params)
    make_transient_to_detached(row)
    session.add(row)
    return row


def _default(column: Any) -> Any:
    """The value the ORM would give `column` when none is set (None without a default)."""
    default = column.default
    if default is None:
        if column.server_default is not None:
            raise ValueError(f"{column} has a server default: give it a value")
        return None
    if default.is_callable:
        return default.arg(None)
    if default.is_scalar:
        return default.arg
    raise ValueError(f"{column} has a SQL default: give it a value")
