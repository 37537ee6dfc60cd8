"""`ServiceApp`: the FastAPI app every service's API is (see `api_app` in common/service.py),
able to answer some requests straight from one handler.

A request that `answer_directly` names goes through the same `ApiMiddleware` (request id,
NUL guard, body limit, token) to its handler, and an error it raises is answered in the
service's dialect as the app's exception handlers would; what it skips are FastAPI's and
Starlette's own layers (error middleware, telemetry, body limit, exception middleware, exit
stack, router, request/response wrapper), each a coroutine call and a `send` wrapper per
request: about a tenth of the event loop's time under the object store's small requests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from overcast.common.http import faults

Handler = Callable[[Request], Awaitable[Response]]


class ServiceApp(FastAPI):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Set by `api_app`: the service's error dialect and its `ApiMiddleware` around an app.
        self.render: faults.Render | None = None
        self.guarded: Callable[[ASGIApp], ASGIApp] | None = None
        self._direct: list[tuple[str, frozenset[str], bool, ASGIApp]] = []

    def answer_directly(
        self, prefix: str, methods: list[str], handler: Handler, *, leaf: bool = False
    ) -> None:
        """Send requests whose path (below the mount) starts with `prefix` (if `leaf`: is
        `prefix` and one more segment, as a route's `/{name}` matches) and whose method is
        one of `methods` to `handler`, past FastAPI's layers. Call before serving."""
        assert self.render is not None and self.guarded is not None
        answer = _Answer(self, handler, self.render)
        self._direct.append((prefix, frozenset(methods), leaf, self.guarded(answer)))

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return _Shortcut(stack, self._direct) if self._direct else stack


class _Shortcut:
    def __init__(
        self, stack: ASGIApp, direct: list[tuple[str, frozenset[str], bool, ASGIApp]]
    ) -> None:
        self.stack = stack
        self.direct = direct

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            root: str = scope.get("root_path", "")
            start = len(root) if root and path.startswith(root) else 0
            for prefix, methods, leaf, app in self.direct:
                if (
                    path.startswith(prefix, start)
                    and scope["method"] in methods
                    and (not leaf or _segment(path[start + len(prefix) :]))
                ):
                    await app(scope, receive, send)
                    return
        await self.stack(scope, receive, send)


def _segment(rest: str) -> bool:
    return bool(rest) and "/" not in rest


class _Answer:
    """The handler's response, or the service's error body for what it raised."""

    def __init__(self, app: FastAPI, handler: Handler, render: faults.Render) -> None:
        self.app = app
        self.handler = handler
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self.app  # `request.app`, as Starlette sets it
        try:
            response = await self.handler(Request(scope, receive))
        except Exception as exc:  # noqa: BLE001 - answered as the exception handlers do
            response = faults.render_error(self.render, exc)
        await response(scope, receive, send)
