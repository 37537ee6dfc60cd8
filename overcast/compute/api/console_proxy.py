"""The console proxy on the compute API's listener, in the roles Nova's novncproxy and
serialproxy play: a websocket (`/console/websockify` for noVNC, websockify's binary protocol;
`/console/serial` for the serial console, raw bytes) that consumes a console token and then
relays bytes both ways to where the token says the guest's console is; and noVNC's web client
(`/console/novnc/...`, Debian's `novnc` package) that the console URL opens.

A token that is unknown, used, expired or for another console, a cross-site `Origin`, or a
console that cannot be reached: the handshake is refused (HTTP 403), nothing is relayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket
from starlette.responses import FileResponse, Response
from starlette.websockets import WebSocketDisconnect

from overcast.common import errors, log
from overcast.compute import consoles
from overcast.compute.state import ComputeState

LOG = log.get(__name__)
NOVNC_DIR = Path("/usr/share/novnc")
CONNECT_TIMEOUT = 5.0
CHUNK = 65536

router = APIRouter()


@router.get("/console/novnc/{path:path}")
async def novnc(path: str) -> Response:
    """noVNC's files as Debian installs them (no token: the page holds no secret)."""
    clean = posixpath.normpath("/" + path).lstrip("/")
    target = NOVNC_DIR / clean
    if not clean or clean.startswith("..") or not target.is_file():
        raise errors.NotFound("The resource could not be found.")
    return FileResponse(target)


@router.websocket("/console/websockify")
async def vnc(websocket: WebSocket) -> None:
    await _proxy(websocket, "novnc")


@router.websocket("/console/serial")
async def serial(websocket: WebSocket) -> None:
    await _proxy(websocket, "serial")


def _same_origin(websocket: WebSocket) -> bool:
    """A browser says where the page that opens the socket came from: it must be this host
    (a page elsewhere must not use a URL it has learnt). Clients that are not browsers send
    no Origin."""
    origin = websocket.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc.lower() == websocket.headers.get("host", "").lower()


async def _open(target: consoles.Target) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if target.path:
        return await asyncio.wait_for(asyncio.open_unix_connection(target.path), CONNECT_TIMEOUT)
    return await asyncio.wait_for(
        asyncio.open_connection(target.host, target.port), CONNECT_TIMEOUT
    )


async def _proxy(websocket: WebSocket, console_type: str) -> None:
    token = websocket.query_params.get("token") or websocket.cookies.get("token") or ""
    st: ComputeState = websocket.app.state.compute
    try:
        if not _same_origin(websocket):
            raise errors.Forbidden("the page opening this console is not from this cloud")
        target = await consoles.consume(st, token, console_type)
        reader, writer = await _open(target)
    except (errors.OvercastError, OSError, TimeoutError) as exc:
        LOG.info("console connection refused: %s", exc)
        await websocket.close(code=1008)  # before accept: the handshake answers 403
        return
    offered = websocket.scope.get("subprotocols", [])
    await websocket.accept(subprotocol="binary" if "binary" in offered else None)
    LOG.info("console opened", extra={"fields": {"instance": target.instance_uuid}})
    try:
        await _relay(websocket, reader, writer)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _relay(
    websocket: WebSocket, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    async def upstream() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes") or (message.get("text") or "").encode()
            writer.write(data)
            await writer.drain()

    async def downstream() -> None:
        while chunk := await reader.read(CHUNK):
            await websocket.send_bytes(chunk)
        with contextlib.suppress(RuntimeError):  # the client has gone already
            await websocket.close()

    tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(
                asyncio.CancelledError, WebSocketDisconnect, OSError, RuntimeError
            ):
                await task
