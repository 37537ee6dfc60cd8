"""SQLite on the event loop's thread (`overcast.common.db.sqlite_inline`): writers of one
engine wait for each other in the loop, another process's writer is waited for in a worker
thread, neither blocks the loop, a failed transaction gives the write lock back, and the WAL
is checkpointed off the loop."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import exc, text

from overcast.common.db import sqlite_inline
from overcast.common.db.session import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    async with database.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    yield database
    await database.close()


async def _insert(db: Database, v: str, hold: float = 0.0) -> None:
    async with db.session() as session:
        await session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": v})
        await asyncio.sleep(hold)


async def _rows(db: Database) -> list[str]:
    async with db.reader() as session:
        return list((await session.scalars(text("SELECT v FROM t ORDER BY id"))).all())


async def _ticks_during(work: asyncio.Future[object] | asyncio.Task[object]) -> int:
    """How often a 10 ms timer fired while `work` ran: the loop was free if it did."""
    ticks = 0
    while not work.done():
        await asyncio.sleep(0.01)
        ticks += 1
    await work
    return ticks


async def test_writers_queue_in_the_loop_and_readers_do_not_wait(db: Database) -> None:
    first = asyncio.create_task(_insert(db, "a", hold=0.3))
    await asyncio.sleep(0.05)  # "a" holds the write lock now
    started = time.monotonic()
    second = asyncio.create_task(_insert(db, "b"))
    assert await _rows(db) == []  # a reader sees the last commit at once
    assert await _ticks_during(second) >= 5
    assert time.monotonic() - started >= 0.2  # "b" waited for "a"
    await first
    assert await _rows(db) == ["a", "b"]


async def test_many_concurrent_transactions_all_commit(db: Database) -> None:
    async def bump(i: int) -> None:
        async with db.session() as session:
            await session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": str(i)})
            await asyncio.sleep(0)
            await session.execute(text("UPDATE t SET v = v || '+' WHERE id = 1"))

    await asyncio.gather(*(bump(i) for i in range(200)))
    rows = await _rows(db)
    assert len(rows) == 200 and rows[0].count("+") == 200


async def test_a_failed_transaction_gives_the_lock_back(db: Database) -> None:
    await _insert(db, "a")
    with pytest.raises(exc.IntegrityError):
        async with db.session() as session:
            await session.execute(text("INSERT INTO t (id, v) VALUES (5, 'x')"))
            await session.execute(text("INSERT INTO t (id, v) VALUES (1, 'dup')"))
    await asyncio.wait_for(_insert(db, "b"), 2)
    assert await _rows(db) == ["a", "b"]


async def test_a_writer_that_never_ends_fails_the_next_as_sqlite_would(db: Database) -> None:
    assert db._gate is not None
    db._gate.timeout = 0.3
    holder = asyncio.create_task(_insert(db, "a", hold=2))
    await asyncio.sleep(0.05)
    with pytest.raises(exc.OperationalError, match="database is locked"):
        await _insert(db, "b")
    await holder
    assert await _rows(db) == ["a"]


async def test_another_processs_writer_is_waited_for_off_the_loop(
    db: Database, tmp_path: Path
) -> None:
    locked, release = threading.Event(), threading.Event()

    def other_process() -> None:
        with sqlite3.connect(tmp_path / "t.db", isolation_level=None) as raw:
            raw.execute("BEGIN IMMEDIATE")
            raw.execute("INSERT INTO t (v) VALUES ('other')")
            locked.set()
            release.wait(5)
            raw.execute("COMMIT")

    other = asyncio.create_task(asyncio.to_thread(other_process))
    await asyncio.to_thread(locked.wait, 5)
    ours = asyncio.create_task(_insert(db, "ours"))
    asyncio.get_running_loop().call_later(0.3, release.set)
    assert await _ticks_during(ours) >= 10
    await other
    assert await _rows(db) == ["other", "ours"]


async def test_the_wal_is_checkpointed_off_the_loop(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_inline, "CHECKPOINT_EVERY", 5)
    for i in range(5):
        await _insert(db, str(i))
    assert db._gate is not None
    await db._gate.close()  # waits for the checkpoint the fifth commit started
    shutil.copy(tmp_path / "t.db", tmp_path / "alone.db")  # the database file without its WAL
    with sqlite3.connect(tmp_path / "alone.db") as copy:
        assert [r[0] for r in copy.execute("SELECT v FROM t ORDER BY id")] == list("01234")


async def test_run_sync_waits_for_the_async_engines_writer_in_the_loop(db: Database) -> None:
    holder = asyncio.create_task(_insert(db, "a", hold=0.3))
    await asyncio.sleep(0.05)
    batch = asyncio.create_task(
        db.run_sync(lambda c: c.execute(text("INSERT INTO t (v) VALUES ('batch')")))
    )
    assert await _ticks_during(batch) >= 5
    await holder
    assert await _rows(db) == ["a", "batch"]
