"""A qcow2 volume seen as a plain raw file, without copying it: `qemu-storage-daemon` exports
the image over FUSE onto a file for as long as the context lasts (backups read and restores
write through it). Read-only views share the image with a guest that has it open."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

from overcast.common import errors

DAEMON = "qemu-storage-daemon"


def available() -> bool:
    return os.path.exists("/dev/fuse")


@contextlib.asynccontextmanager
async def raw_view(path: Path, fmt: str, mountpoint: Path, writable: bool) -> AsyncIterator[Path]:
    """`path` (a `fmt` image) as the raw file `mountpoint` while the context lasts."""
    await asyncio.to_thread(mountpoint.touch)
    shared = "" if writable else ",read-only=on,force-share=on"
    process = await asyncio.create_subprocess_exec(
        DAEMON,
        "--blockdev",
        f"driver=file,node-name=file0,filename={path}{shared}",
        "--blockdev",
        f"driver={fmt},node-name=disk0,file=file0{shared}",
        "--export",
        f"type=fuse,id=view0,node-name=disk0,mountpoint={mountpoint},"
        f"writable={'on' if writable else 'off'}",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(500):
            if process.returncode is not None:
                err = await process.stderr.read() if process.stderr else b""
                raise errors.ServiceUnavailable(
                    f"{DAEMON} could not export {path.name}: {err.decode(errors='replace')[:300]}"
                )
            if os.stat(mountpoint).st_size > 0:
                break
            await asyncio.sleep(0.01)
        else:
            raise errors.ServiceUnavailable(f"{DAEMON} did not export {path.name} in time")
        yield mountpoint
    finally:
        await _stop(process, mountpoint)


async def _stop(process: asyncio.subprocess.Process, mountpoint: Path) -> None:
    """End the daemon and its mount. QEMU 7.2's daemon notes SIGTERM but leaves only when its
    main loop next wakes, which an idle export may never do: each wait ends in a request on the
    mount (a stat) that wakes it; a daemon still there after that is killed and its mount
    detached."""
    if process.returncode is None:
        process.terminate()
        for _ in range(10):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), 0.2)
                break
            await asyncio.to_thread(_poke, mountpoint)
        else:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            await asyncio.to_thread(_detach, mountpoint)
    await asyncio.to_thread(mountpoint.unlink, True)


def _poke(mountpoint: Path) -> None:
    with contextlib.suppress(OSError):
        os.stat(mountpoint)


def _detach(mountpoint: Path) -> None:
    subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, check=False)


def clear_stale(mountpoint: Path) -> None:
    """A view left by a crash: stop the daemon still serving it (found by its mountpoint in
    its command line), detach the mount and remove the file."""
    needle = f"mountpoint={mountpoint},".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if needle in (proc / "cmdline").read_bytes():
                os.kill(int(proc.name), signal.SIGKILL)
    _detach(mountpoint)
    with contextlib.suppress(OSError):
        mountpoint.unlink()
