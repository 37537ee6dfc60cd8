"""The object server listening on this node's `server_url`, inside the object role's process
(beside the daemons), until the role stops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from urllib.parse import urlsplit

import uvicorn
from starlette.types import ASGIApp

from overcast.common import errors, log
from overcast.common.listener import SERVER_KEEP_ALIVE

LOG = log.get(__name__)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the process's own handlers stop the role, and this server with it


class Listener:
    def __init__(self, app: ASGIApp, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise errors.BadRequest(f"object_store.server_url {url!r} is not http://HOST:PORT")
        self.url = url
        self.server = _Server(
            uvicorn.Config(
                app,
                host=parts.hostname,
                port=parts.port,
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=5,
                timeout_keep_alive=SERVER_KEEP_ALIVE,
            )
        )
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()  # its error (the port is taken...)
                raise RuntimeError(f"the object server on {self.url} did not start")
            await asyncio.sleep(0.05)
        LOG.info("object server listening", extra={"fields": {"url": self.url}})

    async def stop(self) -> None:
        if self.task is not None:
            self.server.should_exit = True
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
