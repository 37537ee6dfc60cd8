"""Where one qemu host keeps its guests: one directory per guest (base images are the agent's
image cache, read-only to the driver).

`DATA_DIR/compute/qemu/<host>/instances/<uuid>/` holds everything of one guest and nothing
else: disks, config drive, console log, sockets, pid file, its launch config. Deleting the
directory deletes the guest's every file. Used by every module of the driver.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overcast.common import files

PREFIX = "overcast-"  # QEMU process names and socket names carry it (see DESIGN: host resources)

# Unix socket paths must be short (108 bytes): sockets are reached through a short link to the
# guest's directory, in a runtime directory that a reboot empties (as it ends the guests).
RUN_ROOT = files.run_root("overcast-qemu")


@dataclass(frozen=True)
class GuestFiles:
    dir: Path

    @property
    def disk(self) -> Path:
        return self.dir / "disk"

    @property
    def ephemeral(self) -> Path:
        return self.dir / "disk.eph0"

    @property
    def swap(self) -> Path:
        return self.dir / "disk.swap"

    @property
    def config_drive(self) -> Path:
        return self.dir / "disk.config"

    @property
    def rescue(self) -> Path:
        return self.dir / "disk.rescue"

    @property
    def kernel(self) -> Path:
        return self.dir / "kernel"

    @property
    def ramdisk(self) -> Path:
        return self.dir / "ramdisk"

    @property
    def console_log(self) -> Path:
        return self.dir / "console.log"

    @property
    def link(self) -> Path:
        """A short path to this directory, for unix sockets (`make_link` makes it)."""
        return files.short_link(self.dir, RUN_ROOT)

    def make_link(self) -> None:
        files.make_short_link(self.dir, RUN_ROOT)

    @property
    def qmp(self) -> Path:
        return self.link / "qmp.sock"

    @property
    def serial(self) -> Path:
        return self.link / "serial.sock"

    @property
    def vnc(self) -> Path:
        return self.link / "vnc.sock"

    @property
    def pidfile(self) -> Path:
        return self.dir / "qemu.pid"

    @property
    def qemu_log(self) -> Path:
        return self.dir / "qemu.log"

    @property
    def saved_state(self) -> Path:
        return self.dir / "suspended.state"

    @property
    def config(self) -> Path:
        return self.dir / "launch.json"

    @property
    def resize_backup(self) -> Path:
        return self.dir / "resize-backup"

    def read_config(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.config.read_text())
        except (OSError, ValueError):
            return None
        return data

    def write_config(self, config: dict[str, Any]) -> None:
        files.atomic_write(self.config, json.dumps(config, indent=1).encode())


class HostFiles:
    def __init__(self, data_dir: Path, host: str) -> None:
        self.root = Path(data_dir) / "compute" / "qemu" / host
        self.instances = self.root / "instances"

    def make(self) -> None:
        self.instances.mkdir(parents=True, exist_ok=True)

    def guest(self, uuid: str) -> GuestFiles:
        return GuestFiles(self.instances / uuid)

    def uuids(self) -> list[str]:
        if not self.instances.exists():
            return []
        return sorted(p.name for p in self.instances.iterdir()
                      if "_" not in p.name and (p / "launch.json").exists())  # fmt: skip

    def remove(self, uuid: str) -> None:
        guest = self.guest(uuid)
        guest.link.unlink(missing_ok=True)
        shutil.rmtree(guest.dir, ignore_errors=True)


def tail(path: Path, limit: int) -> str:
    """The last `limit` bytes of a console log, as text with plain line ends ("" if none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            data = f.read()
    except FileNotFoundError:
        return ""
    return data.decode(errors="replace").replace("\r\n", "\n").replace("\r", "")


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)
