"""The REST APIs this process serves, reached without a socket: a request to one of their URLs
is handed to the cloud's own ASGI app in memory, so it passes the same middleware (token
check, body limits, trace headers) and the same routes and policies as one that came over
the wire; only the TCP hop and HTTP parsing are skipped (docs/DESIGN.md allows this).

Whole bodies only: ASGI transport buffers the answer, so streams (event streams, image data)
keep to real HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
from starlette.types import ASGIApp


class InProcess:
    def __init__(self, base_url: str, prefixes: Sequence[str], app: ASGIApp) -> None:
        base = base_url.rstrip("/")
        # The identity API is mounted at the root: only its own paths are taken as its.
        self._roots = tuple(base + (p or "/v3") + "/" for p in prefixes)
        self._app = app
        self._clients: dict[int, httpx.AsyncClient] = {}

    def serves(self, url: str) -> bool:
        return (url.rstrip("/") + "/").startswith(self._roots)

    def client(self) -> httpx.AsyncClient:
        """The running event loop's in-memory client."""
        key = id(asyncio.get_running_loop())
        found = self._clients.get(key)
        if found is None or found.is_closed:
            transport = httpx.ASGITransport(
                app=self._app, raise_app_exceptions=False, client=("127.0.0.1", 0)
            )
            found = httpx.AsyncClient(transport=transport, timeout=60)
            self._clients[key] = found
        return found
