"""ASGI middleware of the compute API: microversion negotiation and project ids in paths.

`MicroversionMiddleware` reads `OpenStack-API-Version: compute X.Y` (or the legacy
`X-OpenStack-Nova-API-Version`), answers 406 for versions outside the supported range, keeps
the version in `scope["state"]["compute_version"]` and echoes it in every response, as Nova
does. `ProjectPathMiddleware` accepts Nova's older URLs with the project id after `/v2.1`.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from overcast.common import errors
from overcast.common.http import faults
from overcast.common.http.microversions import VersionRange

_PROJECT = re.compile(r"^/v2(?:\.1)?/([0-9a-f]{32}|[0-9a-f-]{36})(/.*)?$")


def _relative(scope: Scope) -> str:
    """The path below the mount point (Starlette keeps the full path in `path`)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class _Headers:
    def __init__(self, scope: Scope) -> None:
        self._h = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}

    def get(self, name: str) -> str | None:
        return self._h.get(name.lower())


class MicroversionMiddleware:
    def __init__(self, app: ASGIApp, versions: VersionRange, render: faults.Render) -> None:
        self.app = app
        self.versions = versions
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _relative(scope).startswith("/v2.1"):
            await self.app(scope, receive, send)
            return
        try:
            version = self.versions.negotiate(_Headers(scope))
        except errors.OvercastError as exc:
            await faults.render_error(self.render, exc)(scope, receive, send)
            return
        scope.setdefault("state", {})["compute_version"] = version
        extra = [
            (k.encode(), v.encode()) for k, v in self.versions.response_headers(version).items()
        ]

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_version)


class ProjectPathMiddleware:
    """`/v2.1/<project_id>/servers` is `/v2.1/servers` (Nova accepts both)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            match = _PROJECT.match(_relative(scope))
            if match:
                rest = match.group(2) or ""
                scope = dict(scope)
                scope["path"] = scope.get("root_path", "") + "/v2.1" + rest
                scope["raw_path"] = scope["path"].encode()
        await self.app(scope, receive, send)
