"""What every boot reads and an admin seldom changes, kept in each API process: a flavor as a
caller may boot it (its snapshot) and a project's quota limits.

A change to flavors or quotas is announced on the bus (topic `compute-definitions`) once it is
committed (`announcing`), and every process drops all it holds before the change's request is
answered: the fanout waits for each listener's confirmation, as token revocation does. A read
that began before a drop is not kept (the generation it started in is gone). Entries also
expire after `TTL` seconds, should an announcement be lost with the bus.

A boot's flavor (two statements: the row and its extra specs) and limits (one) are read from
the database once per `TTL` rather than per boot.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors, log
from overcast.common.bus import Bus
from overcast.common.context import RequestContext
from overcast.compute import flavors, quotas

LOG = log.get(__name__)
TOPIC = "compute-definitions"
TTL = 10.0
MAX_ENTRIES = 10000


class _Listener:
    """The cache's one bus method (its reads must not be bus methods too)."""

    def __init__(self, cache: BootCache) -> None:
        self._cache = cache

    async def changed(self, _ctx: dict[str, Any], **_detail: Any) -> None:
        self._cache.clear()


class BootCache:
    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._entries: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self._generation = 0
        bus.serve(TOPIC, _Listener(self))

    def clear(self) -> None:
        self._entries.clear()
        self._generation += 1

    def _get(self, key: tuple[Any, ...]) -> Any:
        found = self._entries.get(key)
        if found is None or found[0] <= time.monotonic():
            return None
        return found[1]

    def _put(self, key: tuple[Any, ...], value: Any, generation: int) -> None:
        if generation != self._generation:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + TTL, value)

    async def flavor(
        self, session: AsyncSession, ctx: RequestContext, flavor_ref: str
    ) -> dict[str, Any]:
        """The snapshot of the flavor a boot asks for (`flavors.get_for_boot`: 400 if the
        caller may not boot it); the caller's own copy."""
        key = ("flavor", flavor_ref, ctx.is_admin, ctx.project_id)
        found = self._get(key)
        if found is None:
            generation = self._generation
            found = (await flavors.get_for_boot(session, ctx, flavor_ref)).snapshot()
            self._put(key, found, generation)
        return {**found, "extra_specs": dict(found["extra_specs"])}

    async def limits(self, session: AsyncSession, project_id: str, user_id: str) -> quotas.Limits:
        """`quotas.read`: the project's limits with the user's own (callers must not change
        them)."""
        key = ("limits", project_id, user_id)
        found = self._get(key)
        if found is None:
            generation = self._generation
            found = await quotas.read(session, project_id, user_id)
            self._put(key, found, generation)
        return found  # type: ignore[no-any-return]

    @asynccontextmanager
    async def announcing(self) -> AsyncIterator[None]:
        """Around a change to flavors or quotas, outside its transaction: when the block ends
        without an error (committed), every process's cache is dropped before this returns."""
        yield
        self.clear()
        try:
            await self._bus.fanout(TOPIC, "changed", {})
        except errors.ServiceUnavailable:  # committed already: the others' entries expire
            LOG.warning("flavors or quotas changed; other processes may use them for %ss", TTL)
