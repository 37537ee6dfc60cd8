"""Locks kept by the database, the same on SQLite, PostgreSQL and MariaDB.

- `bump`: an upsert that bumps a counter takes the row's write lock until the transaction ends
  (quota checks use it so that one project's check-and-create runs one at a time).
- `held(db, name)`: a named lock across processes and nodes (PostgreSQL's advisory lock,
  MariaDB's GET_LOCK) on a connection of its own, waited for with a log line; nothing to take
  on SQLite, which has one writing process. Used around migrations and the API's start-up, so
  that processes starting together do them one at a time.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import log
from overcast.common.db.session import Database

LOG = log.get(__name__)


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


def _key(name: str) -> int:
    """PostgreSQL's advisory locks are named by a signed 64-bit number."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@asynccontextmanager
async def held(db: Database, name: str) -> AsyncIterator[None]:
    dialect = db.engine.dialect.name
    if dialect == "sqlite":
        yield
        return
    if dialect == "postgresql":
        take, give = "SELECT pg_try_advisory_lock(:k)", "SELECT pg_advisory_unlock(:k)"
        params: dict[str, object] = {"k": _key(name)}
    else:  # mysql / mariadb
        take, give = "SELECT GET_LOCK(:k, 0)", "SELECT RELEASE_LOCK(:k)"
        params = {"k": name[:64]}
    async with db.engine.connect() as connection:
        waited = False
        while not await connection.scalar(text(take), params):
            if not waited:
                LOG.info("waiting for the database lock %r held by another process", name)
                waited = True
            await connection.rollback()
            await asyncio.sleep(0.2)
        await connection.commit()
        try:
            yield
        finally:
            await connection.scalar(text(give), params)
            await connection.commit()
