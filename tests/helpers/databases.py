"""Fresh PostgreSQL and MariaDB databases for tests that run a server on them.

`OVERCAST_TEST_DATABASE=postgresql|mariadb` makes every test server of a run use a fresh
database of that kind (`make test` runs the identity suite this way on both).

A database server may be shared by other runs (other checkouts, other machines): every database
a run makes is named `ovt_<run>_<n>`, <run> the run's id (its xdist workers share it) and <n>
unique, so no other run can take or drop it. Each is dropped when its test is done; what a
worker made and could not drop then is dropped when the worker exits. Nothing else is dropped.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

PORTS = {"postgresql": 5432, "mariadb": 3306}
RUN = (os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex)[:12]
_MADE: set[tuple[str, str]] = set()  # (kind, name) this process made and has not dropped


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
            if create:
                await conn.execute(f'CREATE DATABASE "{name}"')
            else:  # FORCE: a server killed by its test may have left connections behind
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(run())
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def _mariadb(name: str, create: bool) -> str:
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root")
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE `{name}`" if create else f"DROP DATABASE IF EXISTS `{name}`"
            )
    finally:
        conn.close()
    return f"mysql+aiomysql://root@127.0.0.1:3306/{name}"


MAKERS: dict[str, Callable[[str, bool], str]] = {"postgresql": _postgres, "mariadb": _mariadb}


@contextmanager
def fresh(kind: str) -> Iterator[str]:
    """A new, empty database of `kind`, this run's own; yields its SQLAlchemy URL and drops it
    afterwards."""
    name = f"ovt_{RUN}_{uuid.uuid4().hex[:8]}"
    url = MAKERS[kind](name, True)
    _MADE.add((kind, name))
    try:
        yield url
    finally:
        _drop(kind, name)


def _drop(kind: str, name: str) -> None:
    MAKERS[kind](name, False)
    _MADE.discard((kind, name))


@atexit.register
def _drop_leftovers() -> None:
    for kind, name in list(_MADE):
        with contextlib.suppress(Exception):  # the server may be gone; nothing else to do
            _drop(kind, name)


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
