"""QEMU processes: started detached from Overcast (a new session, reparented to init by a
double fork, so guests outlive `overcast up`), found again by pid file, and ended.

Called by `guests`. A process is recognised by its pid file *and* its command line naming the
guest, so a recycled pid is never taken for a guest.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from overcast.common import errors
from overcast.compute.drivers.qemu.files import GuestFiles

# sh backgrounds QEMU and writes its pid down, then exits: QEMU's parent becomes init, not us.
# No pipe joins us to QEMU (one it inherited would keep us waiting for its end).
_DETACH = 'exec "$@" >>"$OVERCAST_QEMU_LOG" 2>&1 </dev/null &\necho $! >"$OVERCAST_QEMU_PID"'


async def start(argv: list[str], files: GuestFiles, pass_fds: tuple[int, ...] = ()) -> int:
    """Start QEMU detached; its pid. Errors in the command line show up in `files.qemu_log`.
    QEMU inherits `pass_fds` (at the same numbers): its NICs' taps."""
    started = files.dir / "qemu.started"
    started.unlink(missing_ok=True)
    proc = await asyncio.create_subprocess_exec(
        "sh",
        "-c",
        _DETACH,
        "sh",
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env={
            **os.environ,
            "OVERCAST_QEMU_LOG": str(files.qemu_log),
            "OVERCAST_QEMU_PID": str(started),
        },  # fmt: skip
        start_new_session=True,
        close_fds=True,
        pass_fds=pass_fds,
    )
    await proc.wait()
    try:
        return int(started.read_text().strip())
    except (OSError, ValueError) as exc:
        raise errors.OvercastError(f"could not start {argv[0]}") from exc
    finally:
        started.unlink(missing_ok=True)


def read_pid(files: GuestFiles) -> int | None:
    try:
        return int(files.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


_KERNEL_THREAD = 0x00200000  # PF_KTHREAD in a task's flags (/proc/<pid>/stat, field 9)


def alive(pid: int | None, uuid: str) -> bool:
    """A thread of the process has not ended and it is this guest's QEMU. Not the main thread
    alone: it can be a zombie while QEMU's other threads still end, and until the last one
    has, the guest's disks stay open and locked. A thread whose command line reads empty is
    between its exec and its new arguments, or ending (its memory gone, its files not yet):
    alive too."""
    if not pid:
        return False
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for tid in tids:
        task = Path(f"/proc/{pid}/task/{tid}")
        try:
            fields = task.joinpath("stat").read_text().rsplit(")", 1)[-1].split()
            cmdline = task.joinpath("cmdline").read_bytes()
        except OSError:
            continue
        if fields[0] in ("Z", "X") or int(fields[6]) & _KERNEL_THREAD:
            continue
        if not cmdline or uuid.encode() in cmdline:
            return True
    return False


def running_pid(files: GuestFiles, uuid: str) -> int | None:
    pid = read_pid(files)
    return pid if alive(pid, uuid) else None


async def kill(pid: int | None, uuid: str, grace: float = 2.0) -> None:
    """End the guest's QEMU: SIGTERM, then SIGKILL after `grace` seconds. Gone is fine."""
    if not alive(pid, uuid):
        return
    assert pid is not None
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = asyncio.get_running_loop().time() + wait
        while asyncio.get_running_loop().time() < deadline:
            if not alive(pid, uuid):
                return
            await asyncio.sleep(0.02)
    raise errors.OvercastError(f"QEMU process {pid} of {uuid} would not end")


def last_error(files: GuestFiles) -> str:
    """The last line QEMU wrote about a failure, for the instance's fault."""
    try:
        lines = files.qemu_log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    failures = [ln for ln in lines if "warning:" not in ln]
    return (failures or lines or [""])[-1][:255]
