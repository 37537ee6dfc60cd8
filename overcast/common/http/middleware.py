"""ASGI middleware every service's app wears: request ids, body limits and authentication.

They are plain ASGI (not Starlette's BaseHTTPMiddleware) so that streamed uploads and
downloads pass through untouched and the per-request cost stays small.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from overcast.common import errors, log
from overcast.common.http import faults
from overcast.common.http.auth import TokenValidator

LOG = log.get("overcast.access")

PublicPath = Callable[[str, str], bool]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _send_error(scope: Scope, send: Send, render: faults.Render, exc: BaseException) -> None:
    response = faults.render_error(render, exc)
    await response(scope, _noop_receive, send)


async def _noop_receive() -> Message:
    return {"type": "http.disconnect"}


class RequestIdMiddleware:
    """Gives each request an id (`req-<uuid>`), echoed in `x-openstack-request-id`."""

    def __init__(self, app: ASGIApp, extra_headers: tuple[str, ...] = ()) -> None:
        self.app = app
        self.names = [b"x-openstack-request-id", *(h.encode() for h in extra_headers)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Request ids need to be unique, not secret: no system call for random bytes.
        request_id = f"req-{uuid.UUID(int=random.getrandbits(128), version=4)}"
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.extend((name, request_id.encode()) for name in self.names)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if LOG.isEnabledFor(10):
                LOG.debug(
                    "request",
                    extra={
                        "fields": {
                            "request_id": request_id,
                            "method": scope.get("method"),
                            "path": scope.get("path"),
                            "status": status,
                            "ms": round((time.perf_counter() - started) * 1000, 2),
                        }
                    },
                )


class NulGuardMiddleware:
    """400 for a NUL in the path or query: PostgreSQL cannot compare it with text, and no
    OpenStack resource has one in its name."""

    def __init__(self, app: ASGIApp, render: faults.Render) -> None:
        self.app = app
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"")
        ):
            error = errors.BadRequest("Invalid input: the URL may not contain NUL characters.")
            await _send_error(scope, send, self.render, error)
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuses request bodies over `limit` bytes with 413. Image data
    (`application/octet-stream`) is streamed to its store and is not limited here."""

    def __init__(self, app: ASGIApp, render: faults.Render, limit: int) -> None:
        self.app = app
        self.render = render
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctype = _header(scope, b"content-type") or ""
        if scope["type"] != "http" or ctype.startswith("application/octet-stream"):
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        too_large = errors.PayloadTooLarge(f"Request body is larger than {self.limit} bytes.")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _send_error(scope, send, self.render, too_large)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise too_large
            return message

        try:
            await self.app(scope, limited_receive, send)
        except errors.PayloadTooLarge as exc:
            await _send_error(scope, send, self.render, exc)


class AuthMiddleware:
    """Validates `X-Auth-Token` and puts the request context in `scope["state"]["context"]`.

    Requests without a valid token get 401 in the service's dialect, except on public paths
    (version discovery, token issue), which pass through without a context.
    """

    def __init__(
        self,
        app: ASGIApp,
        validator: Callable[[], TokenValidator],
        render: faults.Render,
        public: PublicPath,
        auth_url: Callable[[], str],
    ) -> None:
        self.app = app
        self.validator = validator
        self.render = render
        self.public = public
        self.auth_url = auth_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        token = _header(scope, b"x-auth-token")
        is_public = self.public(scope["method"], scope["path"])
        if token:
            try:
                context = await self.validator().validate(token)
                state["context"] = context.with_request_id(state.get("request_id", ""))
            except errors.Unauthorized as exc:
                if not is_public:
                    await self._unauthorized(scope, send, exc.message)
                    return
        elif not is_public:
            await self._unauthorized(
                scope, send, "The request you have made requires authentication."
            )
            return
        await self.app(scope, receive, send)

    async def _unauthorized(self, scope: Scope, send: Send, message: str) -> None:
        response = faults.render_error(self.render, errors.Unauthorized(message))
        response.headers["WWW-Authenticate"] = f'Keystone uri="{self.auth_url()}"'
        await response(scope, _noop_receive, send)
