"""Probe for VMware's vmdk: a sparse extent with an embedded descriptor, or a bare descriptor.

A vmdk descriptor lists extents by file name; anything but one sparse extent held in the file
itself (createType monolithicSparse or streamOptimized) could point qemu at a host file.
"""

from __future__ import annotations

import re
import struct

from overcast.image.formats import Detected

SPARSE_MAGIC = b"KDMV"
TEXT_MAGIC = b"# Disk DescriptorFile"
ALLOWED_TYPES = {"monolithicSparse", "streamOptimized"}
_CREATE_TYPE = re.compile(rb'^\s*createType\s*=\s*"?([A-Za-z0-9_]+)"?', re.M)
_EXTENT = re.compile(rb'^\s*(RW|RDONLY|NOACCESS)\s+\d+\s+(\w+)(?:\s+"([^"]*)")?', re.M)


def vmdk(head: bytes, _tail: bytes, _size: int) -> Detected | None:
    if head.startswith(TEXT_MAGIC):
        return Detected("vmdk", None, "the vmdk is a bare descriptor naming other files")
    if not head.startswith(SPARSE_MAGIC):
        return None
    if len(head) < 44:
        return Detected("vmdk", None, "the vmdk header is truncated")
    (capacity,) = struct.unpack_from("<Q", head, 12)
    offset, size = struct.unpack_from("<QQ", head, 28)
    virtual_size = capacity * 512
    start, end = offset * 512, (offset + size) * 512
    if not offset or not size or end > len(head):
        return Detected("vmdk", virtual_size, "the vmdk descriptor could not be read")
    return Detected("vmdk", virtual_size, _descriptor_problem(head[start:end]))


def _descriptor_problem(text: bytes) -> str | None:
    text = text.split(b"\x00", 1)[0]
    kind = _CREATE_TYPE.search(text)
    if kind is None or kind.group(1).decode() not in ALLOWED_TYPES:
        found = kind.group(1).decode() if kind else "none"
        return f"the vmdk createType {found} is not one of {', '.join(sorted(ALLOWED_TYPES))}"
    extents = _EXTENT.findall(text)
    if len(extents) != 1:
        return f"the vmdk has {len(extents)} extents; exactly one is allowed"
    _access, kind_name, name = extents[0]
    if kind_name != b"SPARSE" or b"/" in name or b"\\" in name:
        return "the vmdk extent is not a sparse extent in the image itself"
    return None
