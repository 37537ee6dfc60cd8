"""qemu-img as the file driver and the backups use it: create, convert, resize and info, run
as child processes; a failure becomes errors.ServiceUnavailable with qemu-img's own words."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

from overcast.common import errors

QEMU_IMG = "qemu-img"


def available() -> bool:
    return shutil.which(QEMU_IMG) is not None


async def run(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        QEMU_IMG,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        text = f"qemu-img {args[0]} failed: {err.decode(errors='replace').strip()[:500]}"
        if b"Failed to get" in err and b"lock" in err:  # QEMU's image lock: open elsewhere
            raise errors.Conflict(text)
        raise errors.ServiceUnavailable(text)
    return out.decode()


async def create(path: Path, fmt: str, size_bytes: int, thin: bool = True) -> None:
    options = (
        "preallocation=off"
        if thin
        else ("preallocation=falloc" if fmt == "raw" else "preallocation=metadata")
    )
    await run("create", "-q", "-f", fmt, "-o", options, str(path), str(size_bytes))


async def convert(
    source: Path, source_fmt: str, dest: Path, dest_fmt: str, snapshot: str | None = None
) -> None:
    """Copy `source` into a new file `dest` in `dest_fmt`; zeros stay holes (thin)."""
    # -U: a guest may hold the source open (a snapshot or clone of an in-use volume is
    # crash-consistent, as Cinder's of an attached volume are).
    args = ["convert", "-q", "-U", "-f", source_fmt, "-O", dest_fmt, "-W", "-m", "8"]
    if snapshot:
        args += ["-l", f"snapshot.name={snapshot}"]
    await run(*args, str(source), str(dest))


async def convert_into(source: Path, source_fmt: str, target: str, target_fmt: str) -> None:
    """Copy `source` into the existing image `target` (a path or an NBD URI) without
    recreating it; zeros are not written (the target starts empty)."""
    await run(
        "convert",
        "-q",
        "-U",
        "-n",
        "--target-is-zero",
        "-f",
        source_fmt,
        "-O",
        target_fmt,
        "-W",
        "-m",
        "8",
        str(source),
        target,
    )


async def resize(path: Path, fmt: str, size_bytes: int) -> None:
    await run("resize", "-q", "-f", fmt, str(path), str(size_bytes))


async def info(path: Path, fmt: str | None = None) -> dict[str, Any]:
    args = ["info", "--output=json", "-U"]
    if fmt:
        args += ["-f", fmt]
    found: dict[str, Any] = json.loads(await run(*args, str(path)))
    return found


def virtual_size(path: Path) -> int:
    """The size a guest sees, read from the file itself (qcow2 header or raw length)."""
    with path.open("rb") as handle:
        head = handle.read(32)
        if head[:4] == b"QFI\xfb":
            return int.from_bytes(head[24:32], "big")
        return os.fstat(handle.fileno()).st_size


def sync_into_place(tmp: Path, path: Path) -> None:
    """Flush `tmp` to disk and rename it to `path`, so a crash leaves the old or the new."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
