"""The ASGI middleware every service's app wears: request ids, the NUL guard, the body limit,
the JSON depth guard and authentication, in that order, as one layer (`api_app` in
common/service.py installs it).

One layer rather than four: each ASGI layer costs a coroutine call per request (and a `send`
wrapper), which on a cached token validation is a tenth of the request. It is plain ASGI (not
Starlette's BaseHTTPMiddleware) so that streamed uploads and downloads pass through untouched.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from overcast.common import errors, log
from overcast.common.http import faults
from overcast.common.http.auth import TokenValidator
from overcast.common.trace import propagate, spans

LOG = log.get("overcast.access")

PublicPath = Callable[[str, str], bool]

_DEBUG = 10
_NUL_IN_URL = "Invalid input: the URL may not contain NUL characters."
_NO_TOKEN = "The request you have made requires authentication."
_TOO_DEEP = "Malformed request body: JSON nested more than {} levels deep."
# No OpenStack request nests anywhere near this; Python's parser gives up near 1,000.
MAX_JSON_DEPTH = 100
# JSON strings (skipped whole, so brackets inside them do not count) and brackets.
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
# The version and variant bits of a version 4 UUID (RFC 4122), set on 128 random bits.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_request_id() -> str:
    """`req-<uuid4>`. Request ids need to be unique, not secret: no system call for random
    bytes, and no `uuid.UUID` object built only to be printed."""
    digits = f"{(random.getrandbits(128) & _UUID4_CLEAR) | _UUID4_SET:032x}"
    return f"req-{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _scan(scope: Scope) -> tuple[bytes | None, str, str, str]:
    """The request's declared length, `X-Auth-Token` and trace headers (X-Trace-Info,
    X-Trace-HMAC), found in one pass over its headers; the first of a repeated header wins."""
    length: bytes | None = None
    token: str | None = None
    info = signature = ""
    for key, value in scope.get("headers", ()):
        if key == b"x-auth-token":
            if token is None:
                token = value.decode("latin-1")
        elif key == b"content-length" and length is None:
            length = value
        elif key == b"x-trace-info":
            info = info or value.decode("latin-1")
        elif key == b"x-trace-hmac":
            signature = signature or value.decode("latin-1")
    return length, token or "", info, signature


def _trace_root(scope: Scope, info: str, signature: str) -> spans.Span:
    """The request's `wsgi` span: continuing a trace whose headers are signed with a key we
    know, else the first of a new, unsampled trace (recorded only if it becomes a workflow)."""
    ids = propagate.incoming(info, signature) if info else None
    trace = spans.Trace(ids[0], sampled=True) if ids else spans.Trace()
    service = scope.get("root_path", "").strip("/").split("/")[0] or "identity"
    method, path = scope.get("method", ""), scope.get("path", "")
    return spans.root(
        f"{method} {path}",
        "wsgi",
        service,
        trace,
        ids[1] if ids else None,
        method=method,
        path=path,
    )


async def _noop_receive() -> Message:
    return {"type": "http.disconnect"}


def too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `body`, read as JSON, nests arrays and objects more than `limit` deep. Counting
    brackets first makes the common case one C call."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for match in _JSON_TOKENS.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


class ApiMiddleware:
    """Every request, outermost first:

    - gets an id (`new_id()`, by default `req-<uuid>`), in `scope["state"]["request_id"]` and echoed in
      `x-openstack-request-id` (and `extra_headers`) on every response, errors included;
    - 400 for a NUL in the path or query: PostgreSQL cannot compare it with text, and no
      OpenStack resource has one in its name;
    - 413 for a body over `limit` bytes, whatever its content type claims, except data that
      streams to a store: the requests `streams(method, path)` names (image and object data),
      which pass through as they arrive; other bodies are read whole before the route sees
      them;
    - 400 for a body nested more than `MAX_JSON_DEPTH` deep, on every path, public ones too;
    - 401 without a valid `X-Auth-Token`, except on `public` paths (version discovery, token
      issue), which pass through without a context; with one, the request context is in
      `scope["state"]["context"]`.

    Errors are answered in the service's dialect (`render`).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        render: faults.Render,
        limit: int,
        validator: Callable[[], TokenValidator],
        public: PublicPath,
        auth_url: Callable[[], str],
        extra_headers: tuple[str, ...] = (),
        new_id: Callable[[], str] = new_request_id,
        streams: PublicPath = lambda _m, _p: False,
    ) -> None:
        self.app = app
        self.new_id = new_id
        self.streams = streams
        self.render = render
        self.limit = limit
        self.validator = validator
        self.public = public
        self.auth_url = auth_url
        self.names = (b"x-openstack-request-id", *(h.encode() for h in extra_headers))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self.new_id()
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        stamp = [(name, request_id.encode()) for name in self.names]
        started = time.perf_counter()
        status = 0
        length, token, info, signature = _scan(scope)
        root = _trace_root(scope, info, signature)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *stamp]
            await send(message)

        try:
            with root:
                await self._checked(scope, receive, send_with_id, state, length, token)
                root.note(status=status, request_id=request_id)
        finally:
            if LOG.isEnabledFor(_DEBUG):
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

    async def _checked(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        state: dict[str, Any],
        length: bytes | None,
        token: str,
    ) -> None:
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b""):
            await self._error(scope, send, errors.BadRequest(_NUL_IN_URL))
            return
        if self.streams(scope["method"], scope["path"]):
            await self._authenticated(scope, receive, send, token, state)
            return
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._error(scope, send, self._too_large())
            return
        try:
            body = await self._read(receive)
        except errors.OvercastError as exc:
            await self._error(scope, send, exc)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: the disconnect, when it comes
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self._authenticated(scope, replay, send, token, state)

    def _too_large(self) -> errors.PayloadTooLarge:
        return errors.PayloadTooLarge(f"Request body is larger than {self.limit} bytes.")

    async def _read(self, receive: Receive) -> bytes:
        """The whole body, at most `limit` bytes, checked for runaway nesting."""
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if too_deep(body):
            raise errors.BadRequest(_TOO_DEEP.format(MAX_JSON_DEPTH))
        return body

    async def _authenticated(
        self, scope: Scope, receive: Receive, send: Send, token: str, state: dict[str, Any]
    ) -> None:
        if token:
            try:
                with spans.span("token checked"):
                    context = await self.validator().validate(token)
                state["context"] = context.with_request_id(state["request_id"])
            except errors.Unauthorized as exc:
                if not self.public(scope["method"], scope["path"]):
                    await self._unauthorized(scope, send, exc.message)
                    return
            except Exception as exc:  # a database that is away: this service's 503 body
                await self._error(scope, send, exc)
                return
        elif not self.public(scope["method"], scope["path"]):
            await self._unauthorized(scope, send, _NO_TOKEN)
            return
        await self.app(scope, receive, send)

    async def _error(self, scope: Scope, send: Send, exc: BaseException) -> None:
        response = faults.render_error(self.render, exc)
        await response(scope, _noop_receive, send)

    async def _unauthorized(self, scope: Scope, send: Send, message: str) -> None:
        response = faults.render_error(self.render, errors.Unauthorized(message))
        response.headers["WWW-Authenticate"] = f'Keystone uri="{self.auth_url()}"'
        await response(scope, _noop_receive, send)
