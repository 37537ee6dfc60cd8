"""Plugging a guest's taps: QEMU creates each NIC's tap (named by the network service's port
binding, `devname`) when it starts and removes it when it ends; this brings the tap up and,
for a `bridge` binding, into the network dataplane's bridge, as os-vif does for Nova.

Called by `guest.Guest.start` after every launch.
"""

from __future__ import annotations

import asyncio

from overcast.common import log
from overcast.compute.drivers.qemu.launch import Nic

LOG = log.get(__name__)


async def _ip(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        "ip", *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    if proc.returncode:
        LOG.warning("ip %s: %s", " ".join(args), err.decode(errors="replace").strip())


async def plug(nics: list[Nic]) -> None:
    for nic in nics:
        if not nic.tap:
            continue
        if nic.bridge:
            await _ip("link", "set", "dev", nic.tap, "master", nic.bridge)
        await _ip("link", "set", "dev", nic.tap, "up")
