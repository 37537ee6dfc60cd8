"""One guest at run time: its QEMU process and monitor, and the few things every action does
with them (launch, quit, ask the run state, wait for an event).

The driver keeps one `Guest` per instance it knows; `Guest.attach` finds a QEMU that survived a
restart of Overcast and connects to its monitor again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from typing import Any

from overcast.common import errors, log
from overcast.compute import states
from overcast.compute.drivers.qemu import process, vifs
from overcast.compute.drivers.qemu.files import GuestFiles
from overcast.compute.drivers.qemu.launch import Launch, argv
from overcast.compute.drivers.qemu.qmp import Monitor

LOG = log.get(__name__)

# QEMU run states (query-status) -> Nova power states.
_POWER = {
    "running": states.RUNNING,
    "paused": states.PAUSED_POWER,
    "suspended": states.PAUSED_POWER,
    "inmigrate": states.PAUSED_POWER,
    "postmigrate": states.PAUSED_POWER,
    "finish-migrate": states.PAUSED_POWER,
    "prelaunch": states.PAUSED_POWER,
    "save-vm": states.PAUSED_POWER,
    "restore-vm": states.PAUSED_POWER,
    "debug": states.PAUSED_POWER,
    "colo": states.PAUSED_POWER,
    "watchdog": states.PAUSED_POWER,
    "io-error": states.PAUSED_POWER,
    "shutdown": states.SHUTDOWN,
    "guest-panicked": states.CRASHED,
    "internal-error": states.CRASHED,
}

# What the guest did by itself: (uuid, event) -> the driver decides what it means.
GuestEvent = Callable[["Guest", str], Awaitable[None]]


def open_disks(launch: Launch) -> dict[int, list[int]]:
    """The guest's disk files opened for QEMU, by disk index: read-only, and read-write unless
    the disk is read-only. Disks that are not local files (NBD) are not in it."""
    opened: dict[int, list[int]] = {}
    try:
        for index, disk in enumerate(launch.disks):
            if not disk.path.startswith("/"):
                continue
            modes = (
                (os.O_RDONLY,)
                if disk.readonly or disk.media == "cdrom"
                else (os.O_RDWR, os.O_RDONLY)
            )
            opened[index] = []
            for mode in modes:
                opened[index].append(os.open(disk.path, mode | os.O_CLOEXEC))
    except OSError as exc:
        for each in opened.values():
            for fd in each:
                os.close(fd)
        raise errors.OvercastError(f"cannot open the guest's disk {disk.path}: {exc}") from exc
    return opened


class Guest:
    def __init__(
        self, uuid: str, files: GuestFiles, binary: str, on_event: GuestEvent | None = None
    ) -> None:
        self.uuid = uuid
        self.files = files
        self.binary = binary
        self.monitor: Monitor | None = None
        self.lock = asyncio.Lock()  # one action at a time on one guest
        self.busy = False  # an action is under way: its events are expected, not news
        self._on_event = on_event

    @property
    def launch(self) -> Launch:
        config = self.files.read_config()
        if config is None:
            raise errors.NotFound(f"Instance {self.uuid} has no launch configuration.")
        return Launch.from_dict(config)

    def pid(self) -> int | None:
        return process.running_pid(self.files, self.uuid)

    def running(self) -> bool:
        return self.pid() is not None

    async def _event(self, name: str, data: dict[str, Any]) -> None:
        if self._on_event is not None and not self.busy:
            if name in ("SHUTDOWN", "DISCONNECTED", "GUEST_PANICKED"):
                await self._on_event(self, name)

    async def start(self, launch: Launch, timeout: float, incoming: bool = False) -> None:
        """Launch QEMU detached and connect to its monitor. On failure nothing runs."""
        await self.detach()
        self.files.make_link()
        for stale in (self.files.qmp, self.files.serial, self.files.vnc, self.files.pidfile):
            stale.unlink(missing_ok=True)
        self.files.qemu_log.write_bytes(b"")
        fds = await vifs.open_taps(launch.nics)
        disk_fds: dict[int, list[int]] = {}
        try:
            disk_fds = await asyncio.to_thread(open_disks, launch)
            command = argv(self.binary, launch, self.files, incoming, fds, disk_fds)
            passed = (*fds.values(), *(fd for each in disk_fds.values() for fd in each))
            pid = await process.start(command, self.files, passed)
        finally:
            vifs.close(fds)  # QEMU holds its own copies
            for each in disk_fds.values():
                for fd in each:
                    os.close(fd)
        monitor = Monitor(f"qemu-{self.uuid}", self.files.qmp, self._event)
        try:
            await monitor.connect(timeout, lambda: process.alive(pid, self.uuid))
        except errors.OvercastError as exc:
            await process.kill(pid, self.uuid)
            await asyncio.sleep(0.05)
            reason = process.last_error(self.files) or str(exc)
            raise errors.OvercastError(f"QEMU could not start the guest: {reason}") from exc
        self.monitor = monitor

    async def attach(self, timeout: float = 5.0) -> bool:
        """Connect to the monitor of a QEMU that is already running; False if none runs."""
        if self.monitor is not None and self.monitor.connected:
            return True
        await self.detach()  # a monitor whose QEMU went: its event task ends with it
        pid = self.pid()
        if pid is None:
            return False
        self.files.make_link()
        monitor = Monitor(f"qemu-{self.uuid}", self.files.qmp, self._event)
        try:
            await monitor.connect(timeout, lambda: process.alive(pid, self.uuid))
        except errors.OvercastError:
            LOG.warning("QEMU %s of %s runs but its monitor does not answer", pid, self.uuid)
            return False
        self.monitor = monitor
        return True

    async def detach(self) -> None:
        if self.monitor is not None:
            await self.monitor.close()
            self.monitor = None

    async def qmp(self, command: str, **arguments: Any) -> Any:
        if not await self.attach():
            raise errors.Conflict(f"Instance {self.uuid} is not running.")
        assert self.monitor is not None
        return await self.monitor.execute(command, **arguments)

    async def status(self) -> str:
        return str((await self.qmp("query-status"))["status"])

    async def power_state(self) -> int:
        if not self.running():
            return states.SUSPENDED_POWER if self.files.saved_state.exists() else states.SHUTDOWN
        try:
            return _POWER.get(await self.status(), states.NOSTATE)
        except errors.OvercastError:
            return states.RUNNING if self.running() else states.SHUTDOWN

    async def quit(self) -> None:
        """End QEMU now (the guest is not asked). Not running is fine."""
        pid = self.pid()
        if pid is None:
            await self.detach()
            return
        with contextlib.suppress(errors.OvercastError):
            if self.monitor is not None and self.monitor.connected:
                await asyncio.wait_for(self.monitor.execute("quit"), 2.0)
        await self.detach()
        await process.kill(pid, self.uuid)

    async def acpi_shutdown(self, timeout: float) -> bool:
        """Press the power button; True if the guest shut down within `timeout` seconds."""
        if timeout <= 0 or not await self.attach():
            return False
        assert self.monitor is not None
        if await self.status() == "shutdown":
            return True
        done = self.monitor.expect("SHUTDOWN", "DISCONNECTED")
        await self.monitor.execute("system_powerdown")
        try:
            await asyncio.wait_for(done, timeout)
        except TimeoutError:
            return False
        return True

    async def wait_job(self, event: str, timeout: float = 600.0) -> dict[str, Any]:
        assert self.monitor is not None
        future = self.monitor.expect(event, "DISCONNECTED")
        result = await asyncio.wait_for(future, timeout)
        if result["event"] == "DISCONNECTED":
            raise errors.OvercastError(f"QEMU of {self.uuid} ended while waiting for {event}")
        return result
