"""SQLite run on the event loop's own thread, as the DBAPI of the async engine.

aiosqlite runs every call (cursor, execute, fetch, close, commit) in its connection's thread
and hands the result back through the loop: four hand-offs per statement, each a thread
wake-up and a GIL exchange that cost more than the statement itself (microseconds on a WAL
database), and up to a switch interval (5 ms) each while the loop is busy with other requests,
all of it inside the write transaction that every other writer waits for. Here a statement
runs where it is called. What must not block the loop does not:

- waiting for this process's other writers: they queue on an asyncio lock (`WriteGate`), taken
  before a connection's first write and given back when its transaction ends, so SQLite never
  sees two writers of one engine. The wait is bounded like SQLite's busy timeout and fails the
  same way ("database is locked").
- another process's writer (a command, a test's sqlite3): the connection's busy timeout is 0;
  a statement that meets SQLITE_BUSY runs again in a worker thread with the full timeout.
- checkpoints: automatic ones are off; every `CHECKPOINT_EVERY` commits a PASSIVE checkpoint
  runs in a worker thread on a connection of its own.

A commit returns once SQLite has committed (WAL, synchronous=NORMAL, as before).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import closing
from typing import Any, TypeVar

from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_module
from sqlalchemy.engine import AdaptedConnection
from sqlalchemy.util.concurrency import await_

from overcast.common import log

LOG = log.get(__name__)

T = TypeVar("T")

CHECKPOINT_EVERY = 200
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_BUSY_RECOVERY)
_READS = ("SELECT", "PRAGMA")


class WriteGate:
    """One engine's writers, one at a time; and its checkpoints."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._commits = 0
        self._checkpoint: asyncio.Task[None] | None = None

    async def enter(self) -> asyncio.Lock:
        """Wait for the gate (of the running loop: a lock is bound to the loop it waits in)."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop = asyncio.Lock(), loop
        lock = self._lock
        try:
            async with asyncio.timeout(self.timeout):
                await lock.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None
        return lock

    def committed(self) -> None:
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY and self._checkpoint is None:
            self._commits = 0
            self._checkpoint = asyncio.get_running_loop().create_task(self._run_checkpoint())

    async def _run_checkpoint(self) -> None:
        try:
            await asyncio.to_thread(_checkpoint, self.path)
        except sqlite3.Error as exc:  # the next one retries; the WAL only grows meanwhile
            LOG.warning("SQLite checkpoint of %s failed: %s", self.path, exc)
        finally:
            self._checkpoint = None

    async def close(self) -> None:
        """Wait for a checkpoint under way."""
        if self._checkpoint is not None:
            await asyncio.shield(self._checkpoint)


def _checkpoint(path: str) -> None:
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)")


class Connection(AdaptedConnection):
    """The DBAPI connection SQLAlchemy's async engine holds: a sqlite3 connection used inline."""

    _connection: sqlite3.Connection  # type: ignore[assignment]

    def __init__(self, gate: WriteGate, raw: sqlite3.Connection) -> None:
        self._connection = raw
        self._gate = gate
        self._held: asyncio.Lock | None = None
        raw.execute("PRAGMA busy_timeout=0")
        raw.execute("PRAGMA wal_autocheckpoint=0")

    def run(self, writes: bool, call: Callable[..., T], *args: Any) -> T:
        """`call(*args)` on the sqlite3 connection, after the gate if it `writes`.

        Awaited once even when nothing waits: the async engine takes a driver that never
        awaits for a sync one (AwaitRequired); the await costs a greenlet switch, not a
        trip through the loop."""
        return await_(self._run(writes, call, *args))

    async def _run(self, writes: bool, call: Callable[..., T], *args: Any) -> T:
        if writes and self._held is None:
            self._held = await self._gate.enter()
        try:
            try:
                return call(*args)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode not in _BUSY:
                    raise
                return await asyncio.to_thread(self._waiting, call, *args)
        finally:
            if self._held is not None and not self._connection.in_transaction:
                self._held.release()
                self._held = None

    def _waiting(self, call: Callable[..., T], *args: Any) -> T:
        """`call` in a worker thread, waiting as long as the gate would for another process."""
        self._connection.execute(f"PRAGMA busy_timeout={int(self._gate.timeout * 1000)}")
        try:
            return call(*args)
        finally:
            self._connection.execute("PRAGMA busy_timeout=0")

    def cursor(self, server_side: bool = False) -> Cursor:
        return Cursor(self)

    def execute(self, operation: str, parameters: Sequence[Any] = ()) -> Cursor:
        cursor = self.cursor()
        cursor.execute(operation, parameters)
        return cursor

    def commit(self) -> None:
        wrote = self._held is not None
        self.run(False, self._connection.commit)
        if wrote:
            self._gate.committed()

    def rollback(self) -> None:
        self.run(False, self._connection.rollback)

    def close(self) -> None:
        try:
            self._connection.close()
        finally:
            if self._held is not None:
                self._held.release()
                self._held = None

    terminate = close

    @property
    def isolation_level(self) -> str | None:
        return self._connection.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: Any) -> None:  # "" or None (SQLAlchemy's AUTOCOMMIT)
        self._connection.isolation_level = value

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._connection.create_function(*args, **kwargs)


class Cursor:
    """A DBAPI cursor; rows are read whole at execute, so no statement stays open."""

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._cursor = connection._connection.cursor()
        self._rows: deque[Any] = deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    def execute(self, operation: str, parameters: Sequence[Any] | None = None) -> Cursor:
        writes = not operation.lstrip()[:6].upper().startswith(_READS)
        self._connection.run(writes, self._step, self._cursor.execute, operation, parameters or ())
        return self

    def executemany(self, operation: str, parameters: Sequence[Sequence[Any]]) -> Cursor:
        self._connection.run(True, self._step, self._cursor.executemany, operation, parameters)
        return self

    def _step(self, call: Callable[[str, Any], Any], operation: str, parameters: Any) -> None:
        cursor = self._cursor
        call(operation, parameters)
        self.description = cursor.description
        self._rows = deque(cursor.fetchall()) if cursor.description else deque()
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self.arraysize, len(rows)))]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def __iter__(self) -> Any:
        while self._rows:
            yield self._rows.popleft()

    def close(self) -> None:
        self._rows.clear()
        self._cursor.close()

    async def _async_soft_close(self) -> None:
        """What SQLAlchemy's async result calls before handing rows on: they are read."""


class DBAPI(AsyncAdapt_dbapi_module):
    """The module SQLAlchemy's aiosqlite dialect is handed (`create_engine(module=...)`)."""

    paramstyle = "qmark"
    has_stop = True

    def __init__(self, gate: WriteGate) -> None:
        super().__init__(sqlite3, dbapi_module=sqlite3)
        self.gate = gate
        self.sqlite = sqlite3
        for name in (
            "DatabaseError",
            "Error",
            "IntegrityError",
            "NotSupportedError",
            "OperationalError",
            "ProgrammingError",
            "InterfaceError",
            "sqlite_version",
            "sqlite_version_info",
            "PARSE_COLNAMES",
            "PARSE_DECLTYPES",
            "Binary",
        ):
            setattr(self, name, getattr(sqlite3, name))

    def connect(self, *args: Any, **kwargs: Any) -> Connection:
        kwargs.pop("async_creator_fn", None)
        kwargs["check_same_thread"] = False  # for the busy fallback's worker thread
        return Connection(self.gate, sqlite3.connect(*args, **kwargs))
