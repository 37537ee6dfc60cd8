"""The QMP monitor of a real QEMU (no guest: `-machine none`): an event handler that closes
the monitor, as the driver does when a guest shuts down by itself, ends the monitor's event
task; a task left waiting on the closed client would be collected pending, which asyncio logs
as "Task was destroyed but it is pending!" (seen after restarts that adopted such guests)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from overcast.common import errors
from overcast.compute.drivers.qemu import hostinfo
from overcast.compute.drivers.qemu.qmp import Monitor

pytestmark = pytest.mark.skipif(
    not hostinfo.qemu_usable("qemu-system-x86_64"), reason="QEMU cannot run here"
)


@pytest.fixture
def qmp_socket(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "qmp.sock"
    qemu = subprocess.Popen(
        ["qemu-system-x86_64", "-machine", "none", "-nodefaults", "-display", "none",
         "-qmp", f"unix:{path},server=on,wait=off"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield path
    finally:
        qemu.kill()
        qemu.wait()


def _event_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if "Monitor._events" in repr(t.get_coro())]


async def test_a_handler_that_closes_the_monitor_ends_its_event_task(qmp_socket: Path) -> None:
    seen: list[str] = []
    monitor: Monitor

    async def handler(name: str, data: dict[str, Any]) -> None:
        seen.append(name)
        if name == "STOP":
            await monitor.close()

    monitor = Monitor("test", qmp_socket, handler)
    await monitor.connect(10, lambda: True)
    assert len(_event_tasks()) == 1
    # QEMU may send the STOP event before its reply, which the handler's close then cuts off.
    with contextlib.suppress(errors.OvercastError):
        await monitor.execute("stop")
    for _ in range(100):
        if not _event_tasks():
            break
        await asyncio.sleep(0.05)
    assert seen == ["STOP"] and not _event_tasks() and not monitor.connected
