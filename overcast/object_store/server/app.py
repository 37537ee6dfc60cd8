"""The object server's routes: the `ObjectServer` contract over HTTP, each route a call on this
node's `local` driver. Every request carries the cluster's key (`drivers.http.node_key`);
names are checked before they reach a path on disk. A device that is unavailable answers 507
(Swift's object servers do), a file that is not whole 400.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from overcast.object_store.drivers import DeviceUnavailable, Pending
from overcast.object_store.drivers import http as wire
from overcast.object_store.drivers.local import DEVICE_NAME, LocalServer

BUFFER = 1 << 20  # received bytes are written to disk in pieces of this size
NAMES = {
    "device": DEVICE_NAME,
    "hash": re.compile(r"[0-9a-f]{32}"),
    "filename": re.compile(r"[0-9]{1,16}\.[0-9]{1,10}\.(data|ts|meta)"),
    "suffix": re.compile(r"[0-9a-f]{3}"),
    "key": re.compile(r"[0-9.]{1,32}-[0-9a-f]{32}\.json"),
}

T = TypeVar("T")


def build(local: LocalServer, key: str) -> ASGIApp:
    """The object server app over `local`, answering only requests that carry `key`."""
    routes = Routes(local)
    router = Starlette(
        routes=[
            Route("/devices/{device}", routes.device, methods=["GET"]),
            Route("/objects/{device}/{part:int}/{hash}", routes.head, methods=["GET"]),
            Route("/objects/{device}/{part:int}/{hash}/{filename}", routes.get, methods=["GET"]),
            Route("/objects/{device}/{part:int}/{hash}/{filename}", routes.put, methods=["PUT"]),
            Route("/partitions/{device}", routes.partitions, methods=["GET"]),
            Route("/partitions/{device}/{part:int}", routes.suffixes, methods=["GET"]),
            Route("/partitions/{device}/{part:int}", routes.drop, methods=["DELETE"]),
            Route("/partitions/{device}/{part:int}/{suffix}", routes.files, methods=["GET"]),
            Route("/audit/{device}/{part:int}/{hash}/{filename}", routes.audit, methods=["POST"]),
            Route("/pending/{device}", routes.save_pending, methods=["PUT"]),
            Route("/pending/{device}", routes.pendings, methods=["GET"]),
            Route("/pending/{device}/{key}", routes.drop_pending, methods=["DELETE"]),
        ]
    )
    return Keyed(router, key)


class Keyed:
    """Lets through only requests that carry the cluster's key; maps device failures."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.key = key.encode()
        self.header = wire.KEY_HEADER.lower().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        given = dict(scope["headers"]).get(self.header, b"")
        if not hmac.compare_digest(given, self.key):
            await Response("wrong or missing object server key", 401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _names(request: Request) -> dict[str, str]:
    found = {}
    for name, value in request.path_params.items():
        pattern = NAMES.get(name)
        if pattern is not None and not pattern.fullmatch(value):
            raise HTTPException(400, f"bad {name}")
        found[name] = value
    return found


def _int(request: Request, name: str) -> int:
    try:
        return int(request.query_params.get(name, "0"))
    except ValueError as exc:
        raise HTTPException(400, f"bad {name}") from exc


class Routes:
    def __init__(self, local: LocalServer) -> None:
        self.local = local

    async def device(self, request: Request) -> Response:
        return await _answer(lambda: self.local.check(_names(request)["device"]), 200)

    async def head(self, request: Request) -> Response:
        p = _names(request)

        async def head() -> Response:
            stored = await self.local.head(
                p["device"], int(p["part"]), p["hash"], _int(request, "small")
            )
            if stored is None:
                return Response(status_code=404)
            return Response(wire.stored_to_wire(stored))

        return await _guard(head)

    async def get(self, request: Request) -> Response:
        p = _names(request)
        dev, part, name_hash, filename = p["device"], int(p["part"]), p["hash"], p["filename"]
        if "start" not in request.query_params:
            return await _guard(
                lambda: _bytes(self.local.read_file(dev, part, name_hash, filename))
            )
        if not filename.endswith(".data"):
            raise HTTPException(400, "only content is read by range")
        timestamp = filename.removesuffix(".data")
        start, end = _int(request, "start"), _int(request, "end")
        chunks = self.local.read(dev, part, name_hash, timestamp, start, end)

        async def first() -> Response:
            # The first read opens the file: a missing one is a 507 before any 200 is sent.
            try:
                head = await anext(chunks)
            except StopAsyncIteration:
                return Response(b"")
            return StreamingResponse(_chain(head, chunks))

        return await _guard(first)

    async def put(self, request: Request) -> Response:
        p = _names(request)
        writer = await _guard_value(
            lambda: self.local.receive(p["device"], int(p["part"]), p["hash"], p["filename"])
        )
        buffer = bytearray()
        try:
            async for chunk in request.stream():
                buffer += chunk
                if len(buffer) >= BUFFER:
                    await writer.write(bytes(buffer))
                    buffer.clear()
            if buffer:
                await writer.write(bytes(buffer))
            await writer.seal()
        except ClientDisconnect:
            await writer.abort()
            return Response("the upload did not end", 499)
        except ValueError:
            await writer.abort()
            return Response("the file does not end with a sound trailer", 400)
        except DeviceUnavailable as exc:
            await writer.abort()
            return Response(str(exc), 507)
        except BaseException:
            await writer.abort()
            raise
        return Response(status_code=201)

    async def partitions(self, request: Request) -> Response:
        device = _names(request)["device"]
        return await _guard(lambda: _json(self.local.partitions(device)))

    async def suffixes(self, request: Request) -> Response:
        p = _names(request)
        return await _guard(lambda: _json(self.local.suffix_hashes(p["device"], int(p["part"]))))

    async def files(self, request: Request) -> Response:
        p = _names(request)
        return await _guard(
            lambda: _json(self.local.suffix_files(p["device"], int(p["part"]), p["suffix"]))
        )

    async def drop(self, request: Request) -> Response:
        p = _names(request)
        return await _answer(lambda: self.local.drop_partition(p["device"], int(p["part"])), 204)

    async def audit(self, request: Request) -> Response:
        p = _names(request)
        try:
            before = float(request.query_params["reclaim_before"])
        except (KeyError, ValueError) as exc:
            raise HTTPException(400, "bad reclaim_before") from exc
        return await _guard(
            lambda: _json(
                self.local.audit(p["device"], int(p["part"]), p["hash"], p["filename"], before)
            )
        )

    async def save_pending(self, request: Request) -> Response:
        device = _names(request)["device"]
        try:
            pending = Pending(**json.loads(await request.body()))
        except (ValueError, TypeError) as exc:
            raise HTTPException(400, "bad pending update") from exc
        return await _answer(lambda: self.local.save_pending(device, pending), 201)

    async def pendings(self, request: Request) -> Response:
        device = _names(request)["device"]
        limit = _int(request, "limit")

        async def listed() -> list[tuple[str, dict[str, object]]]:
            return [(k, p.__dict__) for k, p in await self.local.pendings(device, limit)]

        return await _guard(lambda: _json(listed()))

    async def drop_pending(self, request: Request) -> Response:
        p = _names(request)
        return await _answer(lambda: self.local.drop_pending(p["device"], p["key"]), 204)


async def _guard(make: Callable[[], Awaitable[Response]]) -> Response:
    try:
        return await make()
    except DeviceUnavailable as exc:
        return Response(str(exc), 507)
    except FileNotFoundError:
        return Response(status_code=404)


async def _guard_value(make: Callable[[], Awaitable[T]]) -> T:
    try:
        return await make()
    except DeviceUnavailable as exc:
        raise HTTPException(507, str(exc)) from exc


async def _answer(action: Callable[[], Awaitable[object]], status: int) -> Response:
    async def run() -> Response:
        await action()
        return Response(status_code=status)

    return await _guard(run)


async def _json(found: Awaitable[object]) -> Response:
    return JSONResponse(await found)


async def _bytes(found: Awaitable[bytes]) -> Response:
    return Response(await found)


async def _chain(head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield head
    async for chunk in rest:
        yield chunk
