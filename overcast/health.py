"""`/healthcheck` on the listener: the readiness probe for CI service containers, systemd units
and load balancers (the path OpenStack's oslo.middleware healthcheck answers on).

Unauthenticated and cheap: `200 OK` once every service has started (and the set-up that follows,
such as registering the default image, has finished), `503` while the cloud is still starting or
already stopping. Mounted by `overcast.app`; probed by `overcast.control`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import Receive, Scope, Send

PATH = "/healthcheck"


class Health:
    def __init__(self) -> None:
        self.state = "starting"
        self._pending: set[asyncio.Task[Any]] = set()

    @property
    def ready(self) -> bool:
        return self.state == "ready" and not self._pending

    def wait_for(self, task: asyncio.Task[Any]) -> None:
        """Not ready until `task` (set-up that needs the listener, e.g. the default image's
        registration) has finished, however it ends."""
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] not in ("GET", "HEAD"):
            status, body, extra = 405, b"Method Not Allowed", [(b"allow", b"GET, HEAD")]
        elif self.ready:
            status, body, extra = 200, b"OK", []
        else:
            status, body, extra = 503, self.state.encode(), []
            if self.state == "ready":
                body = b"finishing set-up"
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            *extra,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
