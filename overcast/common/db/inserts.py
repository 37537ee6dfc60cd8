"""Plain inserts where the ORM's unit of work costs more than the statement: one that yields
to an existing key instead of failing the transaction, and a new ORM object written at once."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy import inspect as inspect_mapped
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached


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
def _plain_insert(table: Table) -> Any:
    return insert(table)


async def insert_row(session: AsyncSession, row: Any) -> None:
    """Write the new ORM object `row` now, with one plain INSERT, and attach it to `session`
    as a loaded row (later changes to it flush as updates, as usual).

    A unit-of-work flush of one row costs several times its statement. Column defaults are
    filled in on `row` first, so every attribute is loaded; a column whose default only the
    database knows (`server_default`) must be given."""
    values: dict[str, Any] = {}
    for prop in inspect_mapped(type(row)).column_attrs:
        column = prop.columns[0]
        if prop.key not in row.__dict__:
            setattr(row, prop.key, _default(column))
        values[column.key] = getattr(row, prop.key)
    await session.execute(_plain_insert(row.__table__), values)
    make_transient_to_detached(row)
    session.add(row)


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
