"""Row locks that work the same on SQLite, PostgreSQL and MariaDB: an upsert that bumps a
counter takes the row's write lock until the transaction ends (quota checks use it so that
one project's check-and-create runs one at a time)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


async def bump(session: AsyncSession, model: Any, key: str, value: str, counter: str) -> None:
    """Insert `model(key=value, counter=1)`, or add 1 to `counter` of the row that exists."""
    dialect = session.get_bind().dialect.name
    values = {key: value, counter: 1}
    increment = {counter: getattr(model, counter) + 1}
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(model).values(values)
        stmt = stmt.on_conflict_do_update(index_elements=[key], set_=increment)
    elif dialect in ("mysql", "mariadb"):
        stmt = mysql.insert(model).values(values).on_duplicate_key_update(increment)
    else:
        stmt = sqlite.insert(model).values(values)
        stmt = stmt.on_conflict_do_update(index_elements=[key], set_=increment)
    await session.execute(stmt)
