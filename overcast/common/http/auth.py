"""Token validation as every service sees it, and the request context for routes.

The identity service provides a `TokenValidator`; `CachingValidator` wraps it so repeated
validations are served from memory for a few seconds, and drops the cache at once when identity
announces a revocation on the bus (topic `identity-revocations`, method `revoked`).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Protocol

from starlette.requests import Request

from overcast.common import errors
from overcast.common.bus import Bus
from overcast.common.context import RequestContext

REVOCATION_TOPIC = "identity-revocations"


class TokenValidator(Protocol):
    async def validate(self, token: str) -> RequestContext:
        """Return the context of a valid token; raise errors.Unauthorized otherwise."""
        ...


class CachingValidator:
    def __init__(self, inner: TokenValidator, ttl: float, bus: Bus, max_entries: int = 50000):
        self.inner = inner
        self.ttl = ttl
        self.max_entries = max_entries
        self._cache: dict[str, tuple[RequestContext, float]] = {}
        bus.serve(REVOCATION_TOPIC, self)

    async def validate(self, token: str) -> RequestContext:
        now = time.monotonic()
        hit = self._cache.get(token)
        if hit is not None and hit[1] > now:
            return hit[0]
        context = await self.inner.validate(token)
        if self.ttl > 0:
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            self._cache[token] = (context, now + min(self.ttl, _seconds_left(context)))
        return context

    async def revoked(self, _ctx: dict[str, Any], **_event: Any) -> None:
        """Bus endpoint: something was revoked or disabled; forget every cached validation."""
        self._cache.clear()


def _seconds_left(context: RequestContext) -> float:
    if not context.expires_at:
        return float("inf")
    expires = dt.datetime.fromisoformat(context.expires_at.replace("Z", "+00:00"))
    return max(0.0, (expires - dt.datetime.now(dt.UTC)).total_seconds())


def current(request: Request) -> RequestContext:
    """The caller's context, set by AuthMiddleware; 401 when there is none."""
    found = request.scope.get("state", {}).get("context")
    if found is None:
        raise errors.Unauthorized("The request you have made requires authentication.")
    assert isinstance(found, RequestContext)
    return found


async def context(request: Request) -> RequestContext:
    """FastAPI dependency: the caller's context.

    Async on purpose: FastAPI runs a plain `def` dependency in its thread pool, which doubles
    the cost of a small request.
    """
    return current(request)
