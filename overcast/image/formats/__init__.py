"""The format inspector: what image data really is, found from its bytes as they stream past.

Like Glance's format inspector, it never trusts the declared `disk_format`: the upload path
feeds every chunk to an `Inspector`, then asks `verdict()` for the detected format, its
virtual size and any safety problem (a qcow2 backing file or data file, a vmdk whose extents
point elsewhere, a differencing vhd/vhdx/vdi) — each a way to make a hypervisor read host files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from overcast.common import errors

HEAD_BYTES = 4 << 20  # enough for every header we read (vhdx metadata sits at 2 MiB)
TAIL_BYTES = 512  # a fixed vhd keeps its only footer in the last sector


@dataclass(frozen=True)
class Detected:
    format: (
        str  # a Glance disk_format name: raw, gpt, qcow2, vmdk, vhd, vhdx, vdi, iso; or qed, luks
    )
    virtual_size: int | None = None
    unsafe: str | None = None  # why this data must be refused whatever its declared format


Probe = Callable[[bytes, bytes, int], Detected | None]


def _probes() -> list[Probe]:
    from overcast.image.formats import disk, microsoft, qemu, vmware

    # Order matters: formats with a magic at offset 0 first, then the ones found deeper.
    return [
        qemu.qcow2,
        qemu.qed,
        qemu.luks,
        microsoft.vhdx,
        vmware.vmdk,
        qemu.vdi,
        microsoft.vhd_dynamic,
        disk.iso,
        microsoft.vhd_fixed,
        disk.partitioned,
    ]


class Inspector:
    """Feed it the data in order with `feed`; it keeps only the head and the tail."""

    def __init__(self) -> None:
        self._head = bytearray()
        self._tail = b""
        self.size = 0

    def feed(self, chunk: bytes | memoryview) -> None:
        n = len(chunk)
        if len(self._head) < HEAD_BYTES:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
        if n >= TAIL_BYTES:
            self._tail = bytes(chunk[-TAIL_BYTES:])
        elif n:
            self._tail = (self._tail + bytes(chunk))[-TAIL_BYTES:]
        self.size += n

    def verdict(self) -> Detected:
        head = bytes(self._head)
        for probe in _probes():
            found = probe(head, self._tail, self.size)
            if found is not None:
                return found
        return Detected("raw", self.size)


# Declared formats whose content we can recognise; the others (ami, ari, aki, ploop) carry
# arbitrary bytes, so only the safety checks apply to them.
INSPECTED = {"raw", "gpt", "qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso"}
# What a declared `raw` may turn out to be: a bare disk, a partitioned disk, a CD image.
RAW_LIKE = {"raw", "gpt", "iso"}


def check(disk_format: str | None, container_format: str | None, found: Detected) -> None:
    """Refuse unsafe data, and data whose format is not the declared one.

    The format must match only for `bare` containers: ova/ovf/docker wrap the disk in an
    archive, so their bytes are the archive's.
    """
    if found.unsafe:
        raise errors.BadRequest(f"Image data is unsafe and was refused: {found.unsafe}.")
    if container_format not in (None, "bare") or disk_format not in INSPECTED:
        return
    ok = found.format == disk_format or (disk_format == "raw" and found.format in RAW_LIKE)
    if not ok:
        raise errors.BadRequest(
            f"Image data is in {found.format} format but the image's disk_format is "
            f"{disk_format}; upload data in the declared format or change disk_format."
        )
