"""Recently validated tokens, as `GET /v3/auth/tokens` answered them, for a few seconds.

Services validate the same tokens over and over; answering from memory skips the decryption
and the dozen queries behind `token_view.resolve`. An entry lives at most
`validation_cache_seconds` and never past the token's expiry, and every cache is dropped at once
when a revocation (topic `identity-revocations`) or a catalog change (`identity-catalog`) is
announced, so a revoked token is refused by the very next request, as with `CachingValidator`;
and when the token keys on disk change.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from overcast.common.bus import Bus
from overcast.common.http.auth import REVOCATION_TOPIC
from overcast.identity import catalog


@dataclass(frozen=True)
class Validated:
    user_id: str  # the token's owner, which the validate/check policies need
    body: bytes  # the JSON answer, rendered once
    deadline: float  # time.monotonic() after which the entry is stale


class TokenCache:
    def __init__(self, ttl: float, bus: Bus, max_entries: int = 20000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[tuple[str, bool], Validated] = {}
        self._generation = 0
        self._keys = -1
        # Only fanouts reach a cache, so it needs no queue of its own: no server name.
        bus.serve(REVOCATION_TOPIC, self)
        bus.serve(catalog.TOPIC, self)

    @property
    def generation(self) -> int:
        """Read before resolving a token; hand to `put` so a flush in between wins."""
        return self._generation

    def sync_keys(self, key_generation: int) -> None:
        """Forget everything when the token keys changed: a dropped key ends its tokens."""
        if key_generation != self._keys:
            self._keys = key_generation
            self.clear()

    def get(self, token: str, with_catalog: bool) -> Validated | None:
        found = self._entries.get((token, with_catalog))
        if found is None:
            return None
        if found.deadline <= time.monotonic():
            self._entries.pop((token, with_catalog), None)
            return None
        return found

    def put(
        self,
        token: str,
        with_catalog: bool,
        entry: tuple[str, bytes, dt.datetime],
        generation: int,
    ) -> None:
        user_id, body, expires_at = entry
        if self.ttl <= 0 or generation != self._generation:
            return
        left = (expires_at - dt.datetime.now(dt.UTC)).total_seconds()
        if left <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        deadline = time.monotonic() + min(self.ttl, left)
        self._entries[(token, with_catalog)] = Validated(user_id, body, deadline)

    def clear(self) -> None:
        self._entries.clear()
        self._generation += 1

    async def revoked(self, _ctx: dict[str, Any], **_event: Any) -> None:
        """Bus endpoint: a token, user, project or credential stopped being valid."""
        self.clear()

    async def changed(self, _ctx: dict[str, Any], **_detail: Any) -> None:
        """Bus endpoint: the catalog changed, so cached bodies carry a stale one."""
        self.clear()
