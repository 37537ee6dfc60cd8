"""The object store's background loops (Swift's daemons), started with the service on the
node that holds the devices: the updater (async pendings), the replicator, the auditor, the
expirer and the container syncer. Each runs one pass at its interval, logs and survives its
own errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from overcast.common import log
from overcast.common.db import session
from overcast.object_store.state import ObjectStoreState

LOG = log.get(__name__)


async def every(name: str, interval: float, step: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the loop goes on; the next pass retries
            session.report_failed_pass(LOG, f"{name} pass failed", exc)


def start(st: ObjectStoreState) -> list[asyncio.Task[None]]:
    from overcast.object_store.daemons import auditor, expirer, replicator, syncer, updater

    cfg = st.settings
    audit = auditor.Auditor(st)
    loops = [
        every("updater", cfg.updater_interval, lambda: updater.run_once(st)),
        every("replicator", cfg.replicator_interval, lambda: replicator.run_once(st)),
        every("auditor", 1.0, audit.step),
        every("expirer", cfg.expirer_interval, lambda: expirer.run_once(st)),
        every("container sync", cfg.sync_interval, lambda: syncer.run_once(st)),
    ]
    return [asyncio.create_task(loop) for loop in loops]
