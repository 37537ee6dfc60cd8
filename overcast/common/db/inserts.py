"""An insert that yields to an existing key instead of failing the transaction."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


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
