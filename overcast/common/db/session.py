"""The async engine and session factory for one database URL.

SQLite runs in WAL mode with a busy timeout so concurrent writers wait instead of failing;
PostgreSQL and MariaDB are used through their async drivers by URL. A value the database
cannot hold (an integer beyond 64 bits, a string longer than its column) is the caller's
error: every session turns it into `errors.BadRequest`, after rolling back.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event, text
from sqlalchemy import exc as exc_module
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from overcast.common import errors, log

LOG = log.get(__name__)

_HOLDING: ContextVar[bool] = ContextVar("overcast_db_writing", default=False)


class Database:
    """Owns the engine; hands out sessions that commit on success and roll back on error."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._owner = True
        self._serial = False
        self._serial_lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        else:
            # A server that went away answers 503 within seconds rather than hang a request.
            timeout = {"timeout": 5} if "asyncpg" in url else {"connect_timeout": 5}
            kwargs.update(
                pool_pre_ping=True,
                pool_size=10,
                max_overflow=20,
                pool_recycle=3600,
                pool_timeout=10,
                connect_args=timeout,
            )
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def serialised(self) -> Database:
        """A view of this database whose write sessions queue in the event loop on SQLite.

        SQLite allows one writer; a second waits in SQLite's busy handler, which sleeps in
        steps of up to 100 ms, so a burst of writes spends most of its time asleep. Queued on
        an asyncio lock, the next writer starts the moment the last commits. A session opened
        by a task (or one it started) that holds the lock does not wait again. A unit must not
        wait, inside a write session, for another unit of the same view (over HTTP, say).
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
        """A unit of work: commits when the block ends, rolls back if it raises."""
        with _out_of_range():
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

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only; nothing it does is committed."""
        with _out_of_range():
            async with self._sessions() as session:
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


def unreachable(exc: BaseException) -> bool:
    """Whether `exc` means the database server cannot be reached now (a 503, not a 500)."""
    return isinstance(
        exc,
        exc_module.OperationalError
        | exc_module.InterfaceError
        | exc_module.DisconnectionError
        | exc_module.TimeoutError
        | ConnectionError
        | TimeoutError,
    )


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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
