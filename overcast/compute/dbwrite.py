"""One compute write at a time on SQLite, queued in the event loop rather than in SQLite.

SQLite allows one writer; a second one waits in SQLite's busy handler, which sleeps in steps
of up to 100 ms, so a burst of boots spends most of its time asleep. `SerialDatabase` queues
compute's write sessions on an asyncio lock instead: the next writer starts the moment the
last commits. Reads are untouched; other databases (PostgreSQL, MariaDB) are untouched. A
session opened while the same task (or one it started) holds the lock does not wait again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common.db.session import Database

_HOLDING: ContextVar[bool] = ContextVar("compute_db_writing", default=False)


class SerialDatabase(Database):
    """The same engine and sessions as `inner`, with serialised write sessions."""

    def __init__(self, inner: Database) -> None:  # noqa: D107 - shares inner's engine
        self.url = inner.url
        self.engine = inner.engine
        self._sessions = inner._sessions
        self._lock: asyncio.Lock | None = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        if not self.is_sqlite or _HOLDING.get():
            async with super().session() as session:
                yield session
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            token = _HOLDING.set(True)
            try:
                async with super().session() as session:
                    yield session
            finally:
                _HOLDING.reset(token)

    async def close(self) -> None:
        """The inner database owns the engine; it closes it."""
