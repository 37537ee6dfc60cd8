"""The test harness's own databases: named for this run, dropped after, and no other run's
database touched (a shared MariaDB once lost a run's databases mid-run)."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers import databases


def _names(kind: str) -> set[str]:
    if kind == "postgresql":
        import asyncio

        import asyncpg

        async def run() -> set[str]:
            conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres")
            try:
                return {r[0] for r in await conn.fetch("SELECT datname FROM pg_database")}
            finally:
                await conn.close()

        return asyncio.run(run())
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root")
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.close()


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_databases_are_this_runs_own(kind: str) -> None:
    if not databases.reachable(kind):
        pytest.skip(f"{kind} is not reachable on 127.0.0.1:{databases.PORTS[kind]}")
    another_run = f"ovt_{uuid.uuid4().hex[:12]}_{uuid.uuid4().hex[:8]}"
    databases.MAKERS[kind](another_run, True)
    try:
        with databases.fresh(kind) as first, databases.fresh(kind) as second:
            mine = {url.rsplit("/", 1)[1] for url in (first, second)}
            assert len(mine) == 2 and all(n.startswith(f"ovt_{databases.RUN}_") for n in mine)
            assert mine <= _names(kind)
        with databases.fresh(kind) as left:
            databases._drop_leftovers()  # what a worker's exit does with what is left
            assert left.rsplit("/", 1)[1] not in _names(kind)
        names = _names(kind)
        assert not mine & names and another_run in names
    finally:
        databases.MAKERS[kind](another_run, False)
