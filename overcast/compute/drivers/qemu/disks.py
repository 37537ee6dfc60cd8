"""A guest's disks on the host: the root overlay on a cached base image, ephemeral and swap
disks from the flavor, root growth, offline copies. Every image passes the format inspector
first. Called by `guests` (build, resize, rescue) and the driver (snapshots of stopped guests).
"""

from __future__ import annotations

import asyncio
import os
import struct
import tempfile
import uuid as uuidlib
from pathlib import Path

from overcast.common import errors
from overcast.compute.drivers.qemu import inspector

GiB = 1 << 30
MiB = 1 << 20


async def qemu_img(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "qemu-img", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        message = err.decode(errors="replace").strip() or f"qemu-img {args[0]} failed"
        raise errors.OvercastError(message)
    return out.decode()


async def boot_sector(path: Path, fmt: str) -> bytes:
    """The first 512 bytes of the disk the image holds."""
    with tempfile.TemporaryDirectory(prefix="overcast-mbr-") as tmp:  # parallel builds race
        out = Path(tmp) / "mbr"
        await qemu_img("dd", "-f", fmt, "-O", "raw", "bs=512", "count=1", f"if={path}", f"of={out}")
        return await asyncio.to_thread(out.read_bytes)


async def check_bootable(path: Path, fmt: str) -> None:
    """A disk image boots through the firmware only with a boot sector (MBR or GPT's guard)."""
    sector = await boot_sector(path, fmt)
    if len(sector) < 512 or sector[510:512] != b"\x55\xaa":
        raise errors.BadRequest("The image is not bootable: it has no boot sector.")


async def create_root(base: Path, fmt: str, dest: Path, size: int) -> None:
    """A qcow2 overlay of `base` (never written) at `dest`, at least `size` bytes."""
    await qemu_img("create", "-q", "-f", "qcow2", "-F", fmt, "-b", str(base), str(dest), str(size))


async def create_blank(dest: Path, size: int) -> None:
    await qemu_img("create", "-q", "-f", "qcow2", str(dest), str(size))


async def grow(path: Path, size: int) -> None:
    """Grow a disk to `size` bytes; a disk never shrinks."""
    info = await inspector.qemu_img_info(path, "qcow2")
    if int(str(info.get("virtual-size", 0))) < size:
        await qemu_img("resize", "-q", "-f", "qcow2", str(path), str(size))


def _write_swap(dest: Path, size: int) -> None:
    """A raw swap area with its Linux signature (what mkswap writes), sparse."""
    page = 4096
    header = bytearray(page)
    pages = size // page
    struct.pack_into("<III", header, 1024, 1, pages - 1, 0)
    header[1036:1052] = uuidlib.uuid4().bytes
    header[page - 10 :] = b"SWAPSPACE2"
    with open(dest, "wb") as f:
        f.write(header)
        f.truncate(pages * page)
        os.fsync(f.fileno())


async def create_swap(dest: Path, size_mb: int) -> None:
    await asyncio.to_thread(_write_swap, dest, size_mb * MiB)


async def copy_out(src: Path, dest: Path) -> None:
    """A standalone qcow2 copy of a guest disk (its backing chain flattened), for images."""
    await qemu_img("convert", "-q", "-f", "qcow2", "-O", "qcow2", str(src), str(dest))


async def copy_into(src: str, src_fmt: str, dest: str, dest_fmt: str) -> None:
    """Every byte of image `src` into the existing, empty and at least as large image `dest`
    (files or NBD URLs)."""
    await qemu_img(
        "convert", "-q", "-n", "--target-is-zero", "-f", src_fmt, "-O", dest_fmt, src, dest
    )
