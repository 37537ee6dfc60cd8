"""Probes for plain disk layouts: ISO 9660 CD images and partitioned (MBR/GPT) disks.

Both are raw bytes as far as a hypervisor is concerned; they are told apart so that an image
declared `iso` really is one and one declared `gpt` really has a partition table.
"""

from __future__ import annotations

import struct

from overcast.image.formats import Detected

ISO_DESCRIPTOR = 16 * 2048  # the primary volume descriptor, after 16 system sectors


def iso(head: bytes, _tail: bytes, size: int) -> Detected | None:
    base = ISO_DESCRIPTOR
    if len(head) < base + 136 or head[base + 1 : base + 6] != b"CD001":
        return None
    (blocks,) = struct.unpack_from("<I", head, base + 80)
    (block_size,) = struct.unpack_from("<H", head, base + 128)
    return Detected("iso", blocks * block_size if head[base] == 1 else size)


def partitioned(head: bytes, _tail: bytes, size: int) -> Detected | None:
    if len(head) >= 520 and head[512:520] == b"EFI PART":
        return Detected("gpt", size)
    if len(head) >= 512 and head[510:512] == b"\x55\xaa":
        return Detected("gpt", size)
    return None
