"""Probes for QEMU's and VirtualBox's formats: qcow2, qed, LUKS and vdi.

qcow2 is the one users upload most and the one most abused: a backing file or an external
data file names a path on the host that qemu would open, so either is refused.
"""

from __future__ import annotations

import struct

from overcast.image.formats import Detected

QCOW2_MAGIC = b"QFI\xfb"
QCOW2_INCOMPAT_DATA_FILE = 1 << 2
QCOW2_EXT_DATA_FILE = 0x44415441  # "DATA": the name of the external data file
QCOW2_EXT_BACKING_FORMAT = 0xE2792ACA
VDI_SIGNATURE = 0xBEDA107F
VDI_DIFFERENCING = 4


def qcow2(head: bytes, _tail: bytes, _size: int) -> Detected | None:
    if not head.startswith(QCOW2_MAGIC):
        return None
    if len(head) < 72:
        return Detected("qcow2", None, "the qcow2 header is truncated")
    version, backing_offset, backing_size = struct.unpack_from(">IQI", head, 4)
    (virtual_size,) = struct.unpack_from(">Q", head, 24)
    if version not in (2, 3):
        return Detected("qcow2", virtual_size, f"qcow2 version {version} is not supported")
    if backing_offset or backing_size:
        return Detected("qcow2", virtual_size, "the qcow2 image has a backing file")
    if version == 3:
        if len(head) < 104:
            return Detected("qcow2", virtual_size, "the qcow2 header is truncated")
        (incompatible,) = struct.unpack_from(">Q", head, 72)
        if incompatible & QCOW2_INCOMPAT_DATA_FILE:
            return Detected("qcow2", virtual_size, "the qcow2 image has an external data file")
        (header_length,) = struct.unpack_from(">I", head, 100)
        problem = _extensions(head, header_length)
    else:
        problem = _extensions(head, 72)
    return Detected("qcow2", virtual_size, problem)


def _extensions(head: bytes, offset: int) -> str | None:
    """Walk the header extensions; refuse a data-file or backing-format extension."""
    for _ in range(64):
        if offset + 8 > len(head):
            return None
        kind, length = struct.unpack_from(">II", head, offset)
        if kind == 0:
            return None
        if kind == QCOW2_EXT_DATA_FILE:
            return "the qcow2 image names an external data file"
        if kind == QCOW2_EXT_BACKING_FORMAT:
            return "the qcow2 image has a backing file format"
        offset += 8 + (length + 7) // 8 * 8
    return "the qcow2 image has too many header extensions"


def qed(head: bytes, _tail: bytes, _size: int) -> Detected | None:
    if not head.startswith(b"QED\x00"):
        return None
    virtual_size = struct.unpack_from("<Q", head, 40)[0] if len(head) >= 48 else None
    return Detected("qed", virtual_size)


def luks(head: bytes, _tail: bytes, _size: int) -> Detected | None:
    return Detected("luks") if head.startswith(b"LUKS\xba\xbe") else None


def vdi(head: bytes, _tail: bytes, _size: int) -> Detected | None:
    if len(head) < 376 or struct.unpack_from("<I", head, 64)[0] != VDI_SIGNATURE:
        return None
    (image_type,) = struct.unpack_from("<I", head, 76)
    (virtual_size,) = struct.unpack_from("<Q", head, 368)
    unsafe = "the vdi image is a differencing image" if image_type == VDI_DIFFERENCING else None
    return Detected("vdi", virtual_size, unsafe)
