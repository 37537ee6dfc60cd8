"""Probes for Microsoft's formats: vhd (fixed and dynamic) and vhdx.

A differencing vhd or vhdx names a parent file, which a hypervisor would open on the host, so
both are refused.
"""

from __future__ import annotations

import struct
import uuid

from overcast.image.formats import Detected

VHD_COOKIE = b"conectix"
VHD_DIFFERENCING = 4
VHDX_SIGNATURE = b"vhdxfile"
VHDX_REGION_TABLE = 192 * 1024
VHDX_METADATA_REGION = uuid.UUID("8B7CA206-4790-4B9A-B8FE-575F050F886E").bytes_le
VHDX_VIRTUAL_DISK_SIZE = uuid.UUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8").bytes_le
VHDX_PARENT_LOCATOR = uuid.UUID("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C").bytes_le


def _footer(footer: bytes) -> Detected:
    (virtual_size,) = struct.unpack_from(">Q", footer, 48)
    (disk_type,) = struct.unpack_from(">I", footer, 60)
    unsafe = "the vhd image is a differencing disk" if disk_type == VHD_DIFFERENCING else None
    return Detected("vhd", virtual_size, unsafe)


def vhd_dynamic(head: bytes, _tail: bytes, _size: int) -> Detected | None:
    """Dynamic and differencing vhds start with a copy of the footer."""
    if len(head) >= 512 and head.startswith(VHD_COOKIE):
        return _footer(head[:512])
    return None


def vhd_fixed(_head: bytes, tail: bytes, _size: int) -> Detected | None:
    """A fixed vhd is raw data followed by its footer."""
    if len(tail) == 512 and tail.startswith(VHD_COOKIE):
        return _footer(tail)
    return None


def vhdx(head: bytes, _tail: bytes, _size: int) -> Detected | None:
    if not head.startswith(VHDX_SIGNATURE):
        return None
    metadata = _region(head, VHDX_METADATA_REGION)
    if metadata is None:
        return Detected("vhdx", None, "the vhdx metadata region could not be read")
    items = _metadata_items(head, metadata)
    if items is None:
        return Detected("vhdx", None, "the vhdx metadata table could not be read")
    if VHDX_PARENT_LOCATOR in items:
        return Detected("vhdx", None, "the vhdx image is a differencing disk")
    where = items.get(VHDX_VIRTUAL_DISK_SIZE)
    if where is None or where + 8 > len(head):
        return Detected("vhdx", None, "the vhdx virtual disk size could not be read")
    return Detected("vhdx", struct.unpack_from("<Q", head, where)[0])


def _region(head: bytes, wanted: bytes) -> int | None:
    """The file offset of the region `wanted`, from the region table."""
    table = VHDX_REGION_TABLE
    if len(head) < table + 16 or head[table : table + 4] != b"regi":
        return None
    (count,) = struct.unpack_from("<I", head, table + 8)
    for i in range(min(count, 2047)):
        entry = table + 16 + 32 * i
        if entry + 32 > len(head):
            return None
        if head[entry : entry + 16] == wanted:
            return int(struct.unpack_from("<Q", head, entry + 16)[0])
    return None


def _metadata_items(head: bytes, start: int) -> dict[bytes, int] | None:
    """Metadata item id -> absolute offset of its value."""
    if len(head) < start + 32 or head[start : start + 8] != b"metadata":
        return None
    (count,) = struct.unpack_from("<H", head, start + 10)
    items: dict[bytes, int] = {}
    for i in range(min(count, 2047)):
        entry = start + 32 + 32 * i
        if entry + 32 > len(head):
            return None
        (offset,) = struct.unpack_from("<I", head, entry + 16)
        items[head[entry : entry + 16]] = start + offset
    return items
