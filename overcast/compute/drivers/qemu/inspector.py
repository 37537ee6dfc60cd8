"""The format inspector: what an image file really is, read from its bytes before QEMU opens it.

Image data comes from users, so its header is trusted for nothing: a qcow2 may name a backing
file or an external data file that would make QEMU open a host file for the guest. `inspect`
reads the header itself (as Glance's format inspector does), refuses what is unsafe or unknown,
and only then asks `qemu-img info` (forced to the detected format) for the virtual size.
Called by `disks` on every image before it becomes a guest's disk.
"""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass
from pathlib import Path

from overcast.common import errors

_QCOW2_MAGIC = b"QFI\xfb"
_QCOW2_INCOMPAT_DATA_FILE = 1 << 2
_QCOW2_INCOMPAT_KNOWN = 0b11111  # dirty, corrupt, external data, compression type, extended L2
_ISO_OFFSETS = (0x8001, 0x8801, 0x9001)
_REFUSED = {
    b"KDMV": "vmdk",
    b"conectix": "vhd",
    b"vhdxfile": "vhdx",
    b"<<< Oracle VM VirtualBox Disk Image >>>"[:8]: "vdi",
    b"QEVM": "qed",
}


@dataclass(frozen=True)
class ImageFormat:
    format: str  # raw, qcow2 or iso
    virtual_size: int  # bytes


def _sniff(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(0x9006)
    if head[:4] == _QCOW2_MAGIC:
        _check_qcow2(head)
        return "qcow2"
    for magic, name in _REFUSED.items():
        if head.startswith(magic):
            raise errors.BadRequest(f"Image format {name} is not supported; use raw or qcow2.")
    if any(head[o : o + 5] == b"CD001" for o in _ISO_OFFSETS):
        return "iso"
    return "raw"


def _check_qcow2(head: bytes) -> None:
    if len(head) < 104:
        raise errors.BadRequest("The image is a truncated qcow2 file.")
    version, backing_offset, backing_size = struct.unpack(">IQI", head[4:20])
    if version not in (2, 3):
        raise errors.BadRequest(f"The image is a qcow2 file of unknown version {version}.")
    if backing_offset or backing_size:
        raise errors.BadRequest("The image is a qcow2 file with a backing file: refused.")
    if version == 3:
        (incompatible,) = struct.unpack(">Q", head[72:80])
        if incompatible & _QCOW2_INCOMPAT_DATA_FILE:
            raise errors.BadRequest("The image is a qcow2 file with an external data file.")
        if incompatible & ~_QCOW2_INCOMPAT_KNOWN:
            raise errors.BadRequest("The image is a qcow2 file with unknown features.")


async def qemu_img_info(path: Path, fmt: str) -> dict[str, object]:
    proc = await asyncio.create_subprocess_exec(
        "qemu-img",
        "info",
        "--output=json",
        "-f",
        fmt,
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        detail = err.decode(errors="replace").strip().splitlines()
        raise errors.BadRequest(f"The image is not a valid {fmt} file: {detail[-1:]}")
    info: dict[str, object] = json.loads(out)
    return info


async def inspect(path: Path) -> ImageFormat:
    """The image's true format and virtual size; errors.BadRequest for what QEMU must not open."""
    fmt = await asyncio.to_thread(_sniff, path)
    if fmt == "iso":
        return ImageFormat("iso", (await asyncio.to_thread(path.stat)).st_size)
    info = await qemu_img_info(path, fmt)
    if info.get("backing-filename") or info.get("full-backing-filename"):
        raise errors.BadRequest("The image names a backing file: refused.")
    specific = info.get("format-specific")
    data_file = specific.get("data", {}) if isinstance(specific, dict) else {}
    if isinstance(data_file, dict) and data_file.get("data-file"):
        raise errors.BadRequest("The image names an external data file: refused.")
    if fmt == "qcow2" and isinstance(data_file, dict) and data_file.get("corrupt"):
        raise errors.BadRequest("The image is a corrupt qcow2 file.")
    size = info.get("virtual-size")
    if not isinstance(size, int) or size <= 0:
        raise errors.BadRequest("The image has no size.")
    return ImageFormat(fmt, size)
