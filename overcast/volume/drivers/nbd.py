"""NBD exports of volume files, served by QEMU's own `qemu-storage-daemon`, so that a
hypervisor on another node attaches a volume in user space (QEMU's `nbd` block driver).

One daemon per exported volume, started in its own session so that it outlives a crash of
Overcast (a guest keeps its disk); each export is recorded in `state_dir/<volume>.json` with the
connectors using it, found again on restart, and stopped when its last connector goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qemu.qmp import ExecuteError, QMPClient, QMPError

from overcast.common import errors, files
from overcast.common.listener import tcp_listener

DAEMON = "qemu-storage-daemon"
# The daemons' monitors are reached through a short link to the state directory (a unix
# socket's path must fit in 107 bytes).
_RUN_ROOT = files.run_root("overcast-nbd")


@dataclass
class Export:
    volume_id: str
    pid: int
    host: str
    port: int
    name: str
    connectors: list[str] = field(default_factory=list)
    monitor: str = ""  # the daemon's QMP socket

    def connection(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "name": self.name, "format": "raw"}


def _listener(host: str) -> socket.socket:
    """A listening socket on a free port, handed to the daemon: a port picked here and bound
    by the daemon later could be taken by another daemon meanwhile."""
    return tcp_listener(host, 0, backlog=64)


def _alive(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return DAEMON.encode() in cmdline


class Exports:
    def __init__(self, state_dir: Path, address: str) -> None:
        self.dir = state_dir
        self.address = address
        self._lock = asyncio.Lock()

    def _record(self, volume_id: str) -> Path:
        return self.dir / f"{volume_id}.json"

    def find(self, volume_id: str) -> Export | None:
        try:
            data = json.loads(self._record(volume_id).read_text())
        except (OSError, ValueError):
            return None
        export = Export(**data)
        return export if _alive(export.pid) else None

    def _save(self, export: Export) -> None:
        files.atomic_write(self._record(export.volume_id), json.dumps(asdict(export)).encode())

    async def add(self, volume_id: str, path: Path, fmt: str, connector_id: str) -> Export:
        """Serve `path` (a `fmt` image) for `connector_id`; the running export if there is one."""
        async with self._lock:
            export = self.find(volume_id)
            if export is None:
                export = await self._start(volume_id, path, fmt)
            if connector_id not in export.connectors:
                export.connectors.append(connector_id)
            self._save(export)
            return export

    async def remove(self, volume_id: str, connector_id: str | None = None) -> None:
        """Drop `connector_id` (all of them when None); stop the daemon when none is left."""
        async with self._lock:
            export = self.find(volume_id)
            if export is not None and connector_id is not None:
                export.connectors = [c for c in export.connectors if c != connector_id]
                if export.connectors:
                    self._save(export)
                    return
            if export is not None:
                await _stop(export.pid)
            with contextlib.suppress(FileNotFoundError):
                self._record(volume_id).unlink()
            (self.dir / f"{volume_id}.qmp").unlink(missing_ok=True)

    async def resize(self, volume_id: str, size: int) -> bool:
        """Grow the exported image to `size` bytes through its daemon, which holds it open;
        False when no export of it runs (or one without a monitor). An NBD export forbids
        resizing and its clients keep the size they were told, so the export is taken down
        and set up again around the resize, and only while no client is connected
        (errors.Conflict when one is: QEMU's NBD client cannot grow a disk)."""
        export = self.find(volume_id)
        if export is None or not export.monitor:
            return False
        client = QMPClient(f"nbd-{volume_id[:8]}")
        try:
            await client.connect(export.monitor)
            await _take_down(client, export.name)
            try:
                await _exports_gone(client)
                await client.execute("block_resize", {"node-name": "disk0", "size": size})
            finally:
                await client.execute("block-export-add", _export(export))
        except (QMPError, OSError) as exc:
            raise errors.ServiceUnavailable(f"{DAEMON} did not grow {export.name}: {exc}") from exc
        finally:
            await client.disconnect()
        return True

    async def refresh(self, volume_id: str, path: Path, fmt: str) -> None:
        """Open the exported image anew, if an export of it runs: what the daemon holds of
        it (the file's length, qcow2's tables) is stale once a QEMU on this host has written
        the file itself (a guest that moved live from here to a host the export serves). The
        export's clients are cut off meanwhile and connect again (QEMU's NBD client, given a
        `reconnect-delay`, holds their requests till then)."""
        async with self._lock:
            export = self.find(volume_id)
            if export is None or not export.monitor:
                return
            client = QMPClient(f"nbd-{volume_id[:8]}")
            try:
                await client.connect(export.monitor)
                await client.execute("block-export-del", {"id": "export0", "mode": "hard"})
                await _exports_gone(client)
                for name in ("disk0", "file0"):
                    await client.execute("blockdev-del", {"node-name": name})
                for node in _nodes(path, fmt):
                    await client.execute("blockdev-add", node)
                await client.execute("block-export-add", _export(export))
            except (QMPError, OSError) as exc:
                raise errors.ServiceUnavailable(
                    f"{DAEMON} did not open {export.name} anew: {exc}"
                ) from exc
            finally:
                await client.disconnect()

    async def _start(self, volume_id: str, path: Path, fmt: str) -> Export:
        self.dir.mkdir(parents=True, exist_ok=True)
        listener = _listener(self.address)
        port = int(listener.getsockname()[1])
        name = f"volume-{volume_id}"
        monitor = files.make_short_link(self.dir, _RUN_ROOT) / f"{volume_id}.qmp"
        monitor.unlink(missing_ok=True)
        qmp = ["--chardev", f"socket,id=qmp0,path={monitor},server=on,wait=off",
               "--monitor", "chardev=qmp0"]  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            DAEMON,
            *qmp,
            *(arg for node in _nodes(path, fmt) for arg in ("--blockdev", json.dumps(node))),
            "--nbd-server",
            f"addr.type=fd,addr.str={listener.fileno()}",
            "--export",
            f"type=nbd,id=export0,node-name=disk0,name={name},writable=on",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            pass_fds=(listener.fileno(),),
        )
        listener.close()
        if not await _listening(self.address, port, process):
            err = b""
            if process.stderr is not None and process.returncode is not None:
                err = await process.stderr.read()
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise errors.ServiceUnavailable(
                f"{DAEMON} did not export {name}: {err.decode(errors='replace')[:300]}"
            )
        return Export(volume_id, process.pid, self.address, port, name, monitor=str(monitor))


def _export(export: Export) -> dict[str, Any]:
    return {"type": "nbd", "id": "export0", "node-name": "disk0", "name": export.name,
            "writable": True}  # fmt: skip


async def _exports_gone(client: QMPClient) -> None:
    """Wait (2 s at most) for a removed export to go: it goes once its last request is done."""
    for _ in range(100):
        if not await client.execute("query-block-exports"):
            return
        await asyncio.sleep(0.02)


def _nodes(path: Path, fmt: str) -> list[dict[str, Any]]:
    """The daemon's block nodes: the file (`file0`) and the image in it (`disk0`, exported).
    No image locks: while a guest moves live between the volume's own host and another, a
    QEMU there and this daemon hold the file at once, and QEMU's handover (the one side
    flushed and let go before the other writes) is what keeps it whole; a lock taken here
    would stop the move, or the guest, at the handover."""
    file = {"driver": "file", "node-name": "file0", "filename": str(path),
            "cache": {"direct": False}, "locking": "off"}  # fmt: skip
    return [file, {"driver": fmt, "node-name": "disk0", "file": "file0"}]


async def _take_down(client: QMPClient, name: str, patience: float = 3.0) -> None:
    """Remove the export once no client is connected: a short-lived one (a size probe) is
    waited for, `patience` seconds; errors.Conflict when one stays (a guest's QEMU)."""
    for attempt in range(int(patience / 0.1)):
        try:
            await client.execute("block-export-del", {"id": "export0", "mode": "safe"})
            return
        except ExecuteError as exc:
            if attempt == int(patience / 0.1) - 1:
                raise errors.Conflict(f"{name} is in use over NBD: {exc}") from exc
            await asyncio.sleep(0.1)


async def _listening(host: str, port: int, process: asyncio.subprocess.Process) -> bool:
    for _ in range(200):
        if process.returncode is not None:
            return False
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        try:  # the daemon's own greeting: it has opened the image and serves
            greeted = await asyncio.wait_for(reader.readexactly(8), 0.5) == b"NBDMAGIC"
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            greeted = False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        if greeted:
            return True
        await asyncio.sleep(0.02)
    return False


async def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not _alive(pid):
            break
        await asyncio.sleep(0.02)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
