"""One guest's QEMU monitor over QMP (with `qemu.qmp`, QEMU's own library): commands with
their errors mapped to Overcast's, events handed to a callback, file descriptors passed to
QEMU (which cannot open host files itself once sandboxed and unprivileged).

Used by `guests`; one `Monitor` per running guest, reconnected when the agent restarts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from qemu.qmp import ConnectError, ExecuteError, QMPClient, QMPError

from overcast.common import errors, log

LOG = log.get(__name__)
# The library logs every refused connection while QEMU starts; errors reach us as exceptions.
logging.getLogger("qemu.qmp").setLevel(logging.CRITICAL)

EventHandler = Callable[[str, dict[str, Any]], Awaitable[None]]


class Monitor:
    def __init__(self, name: str, socket: Path, on_event: EventHandler | None = None) -> None:
        self.socket = socket
        self.client = QMPClient(name)
        self._on_event = on_event
        self._watch: asyncio.Task[None] | None = None
        self._closed = False
        self._waiters: list[tuple[set[str], asyncio.Future[dict[str, Any]]]] = []

    async def connect(self, timeout: float, still_alive: Callable[[], bool]) -> None:
        """Connect, retrying while QEMU starts; errors.OvercastError if it never answers."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                await self.client.connect(str(self.socket))
                break
            except (ConnectError, OSError) as exc:
                if not still_alive() or asyncio.get_running_loop().time() > deadline:
                    raise errors.OvercastError(f"QEMU monitor did not answer: {exc}") from exc
                await asyncio.sleep(0.02)
        self._watch = asyncio.get_running_loop().create_task(self._events())

    @property
    def connected(self) -> bool:
        return self.client.runstate.name == "RUNNING"

    async def close(self) -> None:
        """Disconnect; the event task ends (also when an event's handler closes it: after
        that handler, it delivers nothing more)."""
        self._closed = True
        watch, self._watch = self._watch, None
        if watch is not None and watch is not asyncio.current_task():  # an event's handler
            watch.cancel()
            # Waited for, not awaited: awaiting it failed with "await wasn't used with future"
            # when a guest found shut down at start was ended while others were adopted.
            await asyncio.wait({watch}, timeout=5)
        try:
            await self.client.disconnect()
        except Exception as exc:  # noqa: BLE001 - QEMU is gone: the library may trip over
            # its own state (an AssertionError) while QEMU's end races our disconnect.
            LOG.debug("closing the monitor of %s: %r", self.socket, exc)

    async def execute(self, command: str, **arguments: Any) -> Any:
        try:
            return await self.client.execute(command, arguments or None)
        except ExecuteError as exc:
            raise errors.Conflict(f"QEMU refused {command}: {exc.error.error.desc}") from exc
        except (QMPError, OSError, EOFError) as exc:
            raise errors.OvercastError(f"QEMU monitor lost during {command}: {exc}") from exc

    def send_fd(self, fd: int) -> None:
        """Send `fd` over the monitor's socket (SCM_RIGHTS); the next command takes it.
        Done on a duplicate of the socket, which works under any event loop."""
        writer = self.client._writer  # the library's own send_fd_scm needs asyncio's sockets
        if writer is None:
            raise errors.OvercastError("QEMU monitor is not connected")
        transport_socket = writer.transport.get_extra_info("socket")
        with socket.socket(
            socket.AF_UNIX, socket.SOCK_STREAM, fileno=os.dup(transport_socket.fileno())
        ) as sock:
            sock.sendmsg([b" "], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("@i", fd))])

    async def pass_fd(self, path: Path, name: str, flags: int = os.O_RDWR) -> None:
        """Open `path` here and hand the descriptor to QEMU under `name` (QMP getfd)."""
        fd = os.open(path, flags | os.O_CLOEXEC, 0o600)
        try:
            self.send_fd(fd)
            await self.execute("getfd", fdname=name)
        finally:
            os.close(fd)

    def expect(self, *names: str) -> asyncio.Future[dict[str, Any]]:
        """A future for the next event named one of `names` (register before acting)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.append((set(names), future))
        return future

    async def _events(self) -> None:
        """Deliver events until the connection ends, then a last `DISCONNECTED` one; or until
        `close`. (A handler that closed the monitor, ending a guest that shut down, must end
        this loop too: the closed client's events and state would never change again, and
        the task, waiting on them, would be collected pending.)"""
        listener = self.client.events
        while not self._closed:
            get = asyncio.ensure_future(listener.get())
            changed = asyncio.ensure_future(self.client.runstate_changed())
            try:
                done, _ = await asyncio.wait({get, changed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (get, changed):
                    if not task.done():
                        task.cancel()
            if get in done:
                event = get.result()
                data = event.get("data")
                await self._deliver(
                    str(event["event"]), dict(data) if isinstance(data, dict) else {}
                )
            elif not self.connected:
                await self._deliver("DISCONNECTED", {})
                return

    async def _deliver(self, name: str, data: dict[str, Any]) -> None:
        for names, future in self._waiters:
            if name in names and not future.done():
                future.set_result({"event": name, **data})
        self._waiters = [(n, f) for n, f in self._waiters if not f.done()]
        if self._on_event is not None:
            try:
                await self._on_event(name, data)
            except Exception:  # one bad handler must not stop the stream
                LOG.exception("handling QEMU event %s failed", name)
