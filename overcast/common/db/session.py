"""The async engine and session factory for one database URL.

SQLite runs in WAL mode on the event loop's thread (`sqlite_inline`: concurrent writers wait
for each other in the loop, not in SQLite's busy handler); PostgreSQL and MariaDB are used
through their async drivers by URL, with a pool sized by `settings.database`. A value the
database cannot hold (an integer beyond 64 bits, a string longer than its column) is the
caller's error: every session turns it into `errors.BadRequest`, after rolling back. A
server that cannot take us now (`unreachable`) is a 503 for the API.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy import exc as exc_module
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from overcast.common import errors, log
from overcast.common.config import DatabaseSettings
from overcast.common.db import sqlite_inline
from overcast.common.trace import instrument, spans

LOG = log.get(__name__)

_HOLDING: ContextVar[bool] = ContextVar("overcast_db_writing", default=False)
T = TypeVar("T")


class _SqliteThread:
    """A synchronous engine on the same SQLite file, used from one thread of its own."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("sqlite+aiosqlite", "sqlite", 1)
        self.engine: Engine | None = None
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-sync")

    def transaction(self, fn: Callable[[Connection], T]) -> T:
        if self.engine is None:
            self.engine = create_engine(self.url, connect_args={"timeout": 30})
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "before_cursor_execute", instrument.on_statement)
        with self.engine.begin() as conn:
            return fn(conn)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        self.thread.shutdown(wait=False)


class Database:
    """Owns the engine; hands out sessions that commit on success and roll back on error."""

    def __init__(self, url: str, pool: DatabaseSettings | None = None) -> None:
        self.url = url
        self._owner = True
        self._serial = False
        self._serial_lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        kwargs: dict[str, Any] = {}
        self._gate: sqlite_inline.WriteGate | None = None
        if url.startswith("sqlite"):
            self._gate = sqlite_inline.WriteGate(make_url(url).database or ":memory:", 30)
            kwargs["module"] = sqlite_inline.DBAPI(self._gate)
        else:
            # A server that went away answers 503 within seconds rather than hang a request.
            timeout = {"timeout": 5} if "asyncpg" in url else {"connect_timeout": 5}
            pool = pool or DatabaseSettings()
            kwargs.update(
                pool_use_lifo=True,  # the busiest connections stay in use, the rest rest
                pool_size=pool.pool_size,
                max_overflow=pool.max_overflow,
                pool_recycle=pool.pool_recycle,
                pool_timeout=pool.pool_timeout,
                connect_args=timeout,
            )
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            _ping_rested(self.engine.sync_engine, (pool or DatabaseSettings()).ping_idle)
        event.listen(self.engine.sync_engine, "before_cursor_execute", instrument.on_statement)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._readers = self._each = self._sessions
        if self.engine.dialect.name == "postgresql":
            # READ COMMITTED takes a snapshot per statement, in a transaction or not: a reader
            # sees the same without one, and saves its BEGIN and ROLLBACK (two round trips of
            # the two or three most reads take). MariaDB's REPEATABLE READ keeps them.
            reading = self.engine.execution_options(
                isolation_level="AUTOCOMMIT", overcast_reader=True
            )
            # No autoflush: a change made to a loaded row (for a view, say) is dropped with the
            # session as a rollback would drop it, never written.
            self._readers = async_sessionmaker(reading, expire_on_commit=False, autoflush=False)
            single = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            self._each = async_sessionmaker(single, expire_on_commit=False)
            event.listen(self.engine.sync_engine, "before_cursor_execute", _reads_only)
        # an in-memory database is one per connection: its work stays on the async engine
        on_file = self.is_sqlite and self.engine.url.database not in (None, "", ":memory:")
        self._sync = _SqliteThread(url) if on_file else None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def serialised(self) -> Database:
        """A view of this database whose write sessions queue in the event loop on SQLite.

        A whole session waits for the one before (its reads too, which SQLite does not hold
        in a transaction until the first write), so a unit's read-then-write is never
        overtaken by another of the same unit. A session opened by a task (or one it
        started) that holds the lock does not wait again. A unit must not wait, inside a
        write session, for another unit of the same view (over HTTP, say).
        """
        view = copy.copy(self)
        view._owner = False
        view._serial = self.is_sqlite
        return view

    def _write_lock(self) -> asyncio.Lock:
        """The lock of the running event loop (a lock is bound to the loop it first waits in)."""
        loop = asyncio.get_running_loop()
        if self._serial_lock is None or self._lock_loop is not loop:
            self._serial_lock, self._lock_loop = asyncio.Lock(), loop
        return self._serial_lock

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block ends, rolls back if it raises; a `db` span
        when a trace is active."""
        with _out_of_range(), spans.span("db transaction", "db"):
            if not self._serial or _HOLDING.get():
                async with self._sessions() as session:
                    async with session.begin():
                        yield session
                return
            async with self._write_lock():
                token = _HOLDING.set(True)
                try:
                    async with self._sessions() as session:
                        async with session.begin():
                            yield session
                finally:
                    _HOLDING.reset(token)

    async def run_sync(self, fn: Callable[[Connection], T]) -> T:
        """`fn` with a synchronous connection, in one transaction committed when it returns.
        On SQLite it runs whole in a thread of its own (one hand-over; a long batch does not
        hold the event loop), after this view's queued writers and the async engine's writer;
        elsewhere on a session's connection through SQLAlchemy's greenlet bridge."""
        if self._sync is None:
            async with self.session() as session:
                connection = await session.connection()
                return await connection.run_sync(fn)
        with _out_of_range(), spans.span("db transaction", "db"):
            loop = asyncio.get_running_loop()
            run = contextvars.copy_context().run  # the trace span counts the statements
            if not self._serial or _HOLDING.get():
                return await self._in_sync_thread(loop, run, fn)
            async with self._write_lock():
                return await self._in_sync_thread(loop, run, fn)

    async def _in_sync_thread(
        self, loop: asyncio.AbstractEventLoop, run: Callable[..., T], fn: Callable[[Connection], T]
    ) -> T:
        """`fn` on the sync engine's thread, once the async engine's writers let it write
        (in the loop: SQLite's busy handler would sleep in steps instead)."""
        assert self._sync is not None and self._gate is not None
        lock = await self._gate.enter()
        try:
            return await loop.run_in_executor(self._sync.thread, run, self._sync.transaction, fn)
        finally:
            lock.release()

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only (on PostgreSQL outside a transaction: a write in it is
        refused with `WriteInReader`, as it would commit at once)."""
        with _out_of_range():
            async with self._readers() as session:
                yield session

    @asynccontextmanager
    async def each(self) -> AsyncIterator[AsyncSession]:
        """A session whose statements commit one by one, for appends that need no atomicity
        together (the trace recorder's batches): on PostgreSQL outside a transaction, without
        its BEGIN and COMMIT round trips; elsewhere a transaction, as `session`."""
        if self._each is self._sessions:
            async with self.session() as session:
                yield session
            return
        with _out_of_range():
            async with self._each() as session:
                yield session

    async def wait_reachable(self) -> None:
        """Return once the database answers; until then retry with back-off, one log line
        per attempt (a process may start before its database server)."""
        delay = 0.2
        while True:
            try:
                async with self.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                return
            except Exception as exc:
                if not unreachable(exc):
                    raise
                LOG.warning(
                    "database at %s unreachable (%s); retrying in %.1fs",
                    self.engine.url.render_as_string(hide_password=True),
                    str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def close(self) -> None:
        """Dispose of the engine (views made by `serialised` leave it to their owner)."""
        if self._owner:
            await self.engine.dispose()
            if self._sync is not None:
                self._sync.close()
            if self._gate is not None:
                await self._gate.close()


# SQLSTATE classes that mean "not now" rather than "wrong": connection exceptions (08),
# insufficient resources (53: too many connections, disk full, out of memory) and operator
# intervention (57P: the server shutting down, starting up or crashed).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P")


def unreachable(exc: BaseException) -> bool:
    """Whether `exc` means the database server cannot serve us now (a 503, not a 500): it is
    down or refuses connections, has no connection left for us (PostgreSQL's "too many
    clients", MariaDB's max_connections), closed ours, or our own pool stayed exhausted.

    aiomysql reports these as OperationalError; asyncpg as a bare DBAPIError carrying the
    server's SQLSTATE, or one that SQLAlchemy marks as a lost connection.
    """
    if isinstance(
        exc,
        exc_module.OperationalError
        | exc_module.InterfaceError
        | exc_module.DisconnectionError
        | exc_module.TimeoutError
        | ConnectionError
        | TimeoutError,
    ):
        return True
    if isinstance(exc, exc_module.DBAPIError):
        sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
        return exc.connection_invalidated or sqlstate.startswith(_UNAVAILABLE_SQLSTATES)
    return False


def report_failed_pass(logger: logging.Logger, what: str, exc: BaseException) -> None:
    """How a periodic pass (an agent's report, a daemon's sweep) that failed is logged: one
    warning line while the database or a service is away (the next pass retries), the
    traceback for anything else."""
    if unreachable(exc) or isinstance(exc, errors.ServiceUnavailable):
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        logger.warning("%s: unavailable (%s); the next pass retries", what, first)
    else:
        logger.error(what, exc_info=exc)


@contextmanager
def _out_of_range() -> Iterator[None]:
    """SQLite refuses integers beyond 64 bits with OverflowError, PostgreSQL and MariaDB with
    a DataError (out of range, too long for the column): all mean the input was bad."""
    try:
        yield
    except OverflowError as exc:
        raise errors.BadRequest("A number in the request is out of range.") from exc
    except exc_module.DataError as exc:
        raise errors.BadRequest("A value in the request is out of range or too long.") from exc


class WriteInReader(RuntimeError):
    """A programming error: a statement that writes, run in `Database.reader()`."""


_WRITES = ("INSERT", "UPDATE", "DELETE", "MERGE")


def _reads_only(
    conn: Connection, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
) -> None:
    """before_cursor_execute on PostgreSQL: a reader's connection runs no write."""
    if conn.get_execution_options().get("overcast_reader") and statement.lstrip()[
        :6
    ].upper().startswith(_WRITES):
        raise WriteInReader(f"a write in Database.reader(): {statement[:80]}")


def _ping_rested(engine: Engine, idle: float) -> None:
    """Check a pooled connection when it is taken after resting more than `idle` seconds,
    as `pool_pre_ping` would check every one: on asyncpg a check is three round trips (begin,
    an empty statement, rollback), as many as a short transaction's own. A connection found
    dead is replaced (and the pool's older ones with it) before the caller gets it."""
    dialect = engine.dialect

    def rested(_dbapi: Any, record: Any) -> None:
        record.info["rested_since"] = time.monotonic()

    def checked(dbapi: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("rested_since", None)
        if since is None or time.monotonic() - since < idle:
            return  # a fresh connection, or one in steady use
        try:
            dialect.do_ping(dbapi)
        except Exception as exc:
            raise exc_module.DisconnectionError(f"a rested connection is gone: {exc}") from exc

    event.listen(engine, "checkin", rested)
    event.listen(engine, "checkout", checked)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
