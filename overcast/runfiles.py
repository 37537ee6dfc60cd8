"""The files that say who owns a data dir and how to reach it, kept by `overcast up`.

- `overcast.lock`: an exclusive `flock` held for the whole life of the owning process, taken
  before anything touches the database; it holds the owner's pid. The kernel drops the lock
  when the process ends, however it ends, so a crash never leaves a stale owner behind.
- `overcast.pid`: the owner's pid, for tools that expect a pid file (removed on a clean stop).
- `run.json`: written once every service has started: pid, URL, services, drivers.
- `overcast.log`: what a detached start (`overcast start`, `up --detach`) prints.

Called by `overcast.up` (the owner) and `overcast.control` (status, stop, wait, start).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overcast.common.files import atomic_write

LOCK = "overcast.lock"
PID = "overcast.pid"
RUN = "run.json"
LOG = "overcast.log"


class InUse(Exception):
    """Another process owns the data dir."""

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        self.data_dir = data_dir
        self.pid = pid
        holder = f"process {pid}" if pid else "another process"
        super().__init__(f"the data dir {data_dir} is in use by {holder}")


@dataclass
class Owner:
    """The lock a running `overcast up` holds; released by `release` or by process exit."""

    data_dir: Path
    fd: int

    def publish(self, info: dict[str, Any]) -> None:
        """Say where this owner listens and what it runs (once it is ready)."""
        body = json.dumps({"pid": os.getpid(), **info}, indent=2) + "\n"
        atomic_write(self.data_dir / RUN, body.encode(), 0o600)

    def release(self) -> None:
        for name in (RUN, PID):
            with contextlib.suppress(FileNotFoundError):
                (self.data_dir / name).unlink()
        os.close(self.fd)


def acquire(data_dir: Path) -> Owner:
    """Take the data dir for this process, or raise `InUse` at once naming the holder."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(data_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        raise InUse(data_dir, holder(data_dir)) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    # The run file of an owner that crashed describes nobody; the pid file is this process's.
    with contextlib.suppress(FileNotFoundError):
        (data_dir / RUN).unlink()
    atomic_write(data_dir / PID, f"{os.getpid()}\n".encode(), 0o644)
    return Owner(data_dir, fd)


def holder(data_dir: Path) -> int | None:
    """The pid of the process that owns `data_dir` now, or None if nobody does.

    Read from /proc/locks rather than by trying the lock, which would make a concurrent
    `acquire` fail for a moment; 0 means held by a process whose pid cannot be read.
    """
    try:
        st = (data_dir / LOCK).stat()
    except FileNotFoundError:
        return None
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    with open("/proc/locks") as locks:
        held = any(
            fields[1] == "FLOCK" and fields[5] == key
            for fields in (line.split() for line in locks)
            if len(fields) > 5 and fields[1] != "->"
        )
    if not held:
        return None
    text = (data_dir / LOCK).read_text().strip()
    return int(text) if text.isdigit() else 0


def run_info(data_dir: Path) -> dict[str, Any] | None:
    """What the owner published once ready (None before that, or when nobody runs)."""
    try:
        info: dict[str, Any] = json.loads((data_dir / RUN).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return info
