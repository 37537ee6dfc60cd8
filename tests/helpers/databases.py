"""Fresh PostgreSQL and MariaDB databases for tests that run a server on them.

`OVERCAST_TEST_DATABASE=postgresql|mariadb` makes every test server of a run use a fresh
database of that kind (`make test` runs the identity suite this way on both).
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

PORTS = {"postgresql": 5432, "mariadb": 3306}


def reachable(kind: str) -> bool:
    try:
        socket.create_connection(("127.0.0.1", PORTS[kind]), timeout=1).close()
        return True
    except OSError:
        return False


def _postgres(name: str, create: bool) -> str:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres")
        try:
            await conn.execute(f'{"CREATE" if create else "DROP"} DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(run())
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def _mariadb(name: str, create: bool) -> str:
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root")
    try:
        with conn.cursor() as cur:
            cur.execute(f"{'CREATE' if create else 'DROP'} DATABASE `{name}`")
    finally:
        conn.close()
    return f"mysql+aiomysql://root@127.0.0.1:3306/{name}"


MAKERS: dict[str, Callable[[str, bool], str]] = {"postgresql": _postgres, "mariadb": _mariadb}


@contextmanager
def fresh(kind: str) -> Iterator[str]:
    """A new, empty database of `kind`; yields its SQLAlchemy URL and drops it afterwards."""
    name = f"overcast_test_{uuid.uuid4().hex[:10]}"
    make = MAKERS[kind]
    url = make(name, True)
    try:
        yield url
    finally:
        make(name, False)


@contextmanager
def selected() -> Iterator[dict[str, str]]:
    """Server environment for the run's database: a fresh one when OVERCAST_TEST_DATABASE
    names a kind, nothing (SQLite in the data dir) otherwise."""
    kind = os.environ.get("OVERCAST_TEST_DATABASE")
    if not kind:
        yield {}
        return
    with fresh(kind) as url:
        yield {"OVERCAST_DATABASE_URL": url}
