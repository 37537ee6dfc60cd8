"""Moving a running guest's disk to another image, as libvirt's block copy does for Nova's
swap_volume: QEMU mirrors the disk's node into a target node added beside it (the guest's
writes go to both while the copy runs), and once the copy is in step the job completes and
the guest's device reads and writes the target (the pivot). Called by the driver's
`swap_volume`, under the guest's lock, so no other block job of the guest runs meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from overcast.common import errors
from overcast.compute.drivers.qemu.guest import Guest

_EVENTS = ("BLOCK_JOB_READY", "BLOCK_JOB_COMPLETED", "DISCONNECTED")


async def _next(guest: Guest, job: str, timeout: float) -> dict[str, Any]:
    """The next event of `job` (or the monitor's end)."""
    assert guest.monitor is not None
    while True:
        event = await asyncio.wait_for(guest.monitor.expect(*_EVENTS), timeout)
        if event["event"] == "DISCONNECTED" or event.get("device") == job:
            return event


async def pivot(guest: Guest, source: str, target: str, timeout: float) -> None:
    """Mirror node (or drive) `source` into the empty node `target`, then switch the guest's
    device to `target`. On failure the job is cancelled and the device still uses `source`."""
    assert guest.monitor is not None
    job = f"swap-{target}"
    first = asyncio.ensure_future(_next(guest, job, timeout))
    await asyncio.sleep(0)  # registered before the job can report
    try:
        await guest.qmp(
            "blockdev-mirror",
            **{"job-id": job, "device": source, "target": target, "sync": "full"},
        )
        event = await first
        if event["event"] == "BLOCK_JOB_READY":
            done = asyncio.ensure_future(_next(guest, job, timeout))
            await asyncio.sleep(0)
            await guest.qmp("job-complete", id=job)
            event = await done
    except BaseException:
        first.cancel()
        with contextlib.suppress(errors.OvercastError):
            await guest.qmp("block-job-cancel", device=job, force=True)
        raise
    if event["event"] != "BLOCK_JOB_COMPLETED" or event.get("error"):
        raise errors.OvercastError(
            f"copying the disk of {guest.uuid} failed: {event.get('error', 'QEMU ended')}"
        )
