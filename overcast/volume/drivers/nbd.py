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

from overcast.common import errors, files

DAEMON = "qemu-storage-daemon"


@dataclass
class Export:
    volume_id: str
    pid: int
    host: str
    port: int
    name: str
    connectors: list[str] = field(default_factory=list)

    def connection(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "name": self.name, "format": "raw"}


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


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

    async def _start(self, volume_id: str, path: Path, fmt: str) -> Export:
        self.dir.mkdir(parents=True, exist_ok=True)
        port = _free_port(self.address)
        name = f"volume-{volume_id}"
        process = await asyncio.create_subprocess_exec(
            DAEMON,
            "--blockdev",
            f"driver=file,node-name=file0,filename={path},cache.direct=off",
            "--blockdev",
            f"driver={fmt},node-name=disk0,file=file0",
            "--nbd-server",
            f"addr.type=inet,addr.host={self.address},addr.port={port}",
            "--export",
            f"type=nbd,id=export0,node-name=disk0,name={name},writable=on",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        if not await _listening(self.address, port, process):
            err = b""
            if process.stderr is not None and process.returncode is not None:
                err = await process.stderr.read()
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise errors.ServiceUnavailable(
                f"{DAEMON} did not export {name}: {err.decode(errors='replace')[:300]}"
            )
        return Export(volume_id, process.pid, self.address, port, name)


async def _listening(host: str, port: int, process: asyncio.subprocess.Process) -> bool:
    for _ in range(200):
        if process.returncode is not None:
            return False
        try:
            _reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
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
