"""The object store's unit for the "object" role: what Swift runs beside its object servers
on a storage node. It sweeps the writes a crash left behind on this node's devices, serves
them to other nodes when `object_store.server_url` is set (`server`), then runs the daemons
(updater, replicator, auditor, expirer, container syncer) until it stops.

`service.ObjectStoreService.units` declares it, so the daemons run once per node (in `overcast
up`'s one process, or in `overcast serve --role object`), never in every API worker.
"""

from __future__ import annotations

import asyncio
import time

from overcast.common import log
from overcast.object_store import daemons
from overcast.object_store.drivers import http
from overcast.object_store.drivers.local import LocalServer
from overcast.object_store.server import app, listener
from overcast.object_store.state import ObjectStoreState

LOG = log.get(__name__)


class ObjectUnit:
    def __init__(self, state: ObjectStoreState) -> None:
        self.state = state
        self.tasks: list[asyncio.Task[None]] = []
        self.listener: listener.Listener | None = None

    async def start(self) -> None:
        # Only what was last written before this start: a write streaming in another process
        # of this node (an API worker) keeps touching its temporary file.
        started = time.time()
        local = self.state.placement.local
        await local.recover(before=started)
        url = self.state.settings.server_url
        if url:
            assert isinstance(local, LocalServer)
            key = http.node_key(self.state.layout.salt())
            self.listener = listener.Listener(app.build(local, key), url)
            await self.listener.start()
        self.tasks = daemons.start(self.state)
        LOG.info("object store daemons started", extra={"fields": {"daemons": len(self.tasks)}})

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []
        if self.listener is not None:
            await self.listener.stop()
            self.listener = None
