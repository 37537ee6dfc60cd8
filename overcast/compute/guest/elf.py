"""Just enough ELF reading to assemble the guest: a shared object's DT_NEEDED names and a
kernel module's `.modinfo` entries (its `depends=`). Called by `rootfs`."""

from __future__ import annotations

import struct
from pathlib import Path

PT_LOAD, PT_DYNAMIC = 1, 2
DT_NEEDED, DT_STRTAB = 1, 5


def needed(path: Path) -> list[str]:
    """The libraries a 64-bit little-endian ELF executable or library asks the loader for."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return []
    phoff, phentsize, phnum = _u64(data, 0x20), _u16(data, 0x36), _u16(data, 0x38)
    loads: list[tuple[int, int, int]] = []
    dynamic: tuple[int, int] | None = None
    for i in range(phnum):
        base = phoff + i * phentsize
        kind = struct.unpack_from("<I", data, base)[0]
        offset, vaddr, filesz = _u64(data, base + 8), _u64(data, base + 16), _u64(data, base + 32)
        if kind == PT_LOAD:
            loads.append((vaddr, offset, filesz))
        elif kind == PT_DYNAMIC:
            dynamic = (offset, filesz)
    if dynamic is None:
        return []
    entries = [struct.unpack_from("<qQ", data, dynamic[0] + i) for i in range(0, dynamic[1], 16)]
    strtab = next(
        (
            v - va + off
            for tag, v in entries
            if tag == DT_STRTAB
            for va, off, size in loads
            if va <= v < va + size
        ),
        None,
    )
    if strtab is None:
        return []
    return [_cstring(data, strtab + v) for tag, v in entries if tag == DT_NEEDED]


def modinfo(path: Path) -> dict[str, list[str]]:
    """A kernel module's `.modinfo` section as key -> values (e.g. `depends`, `alias`)."""
    data = path.read_bytes()
    shoff, shentsize, shnum, shstrndx = (
        _u64(data, 0x28),
        _u16(data, 0x3A),
        _u16(data, 0x3C),
        _u16(data, 0x3E),
    )

    def section(i: int) -> tuple[int, int, int]:
        base = shoff + i * shentsize
        name = struct.unpack_from("<I", data, base)[0]
        return name, _u64(data, base + 0x18), _u64(data, base + 0x20)

    names_offset = section(shstrndx)[1]
    info: dict[str, list[str]] = {}
    for i in range(shnum):
        name, offset, size = section(i)
        if _cstring(data, names_offset + name) != ".modinfo":
            continue
        for item in data[offset : offset + size].split(b"\0"):
            key, sep, value = item.decode(errors="replace").partition("=")
            if sep:
                info.setdefault(key, []).append(value)
    return info


def _u16(data: bytes, at: int) -> int:
    return int(struct.unpack_from("<H", data, at)[0])


def _u64(data: bytes, at: int) -> int:
    return int(struct.unpack_from("<Q", data, at)[0])


def _cstring(data: bytes, at: int) -> str:
    return data[at : data.index(b"\0", at)].decode()


SIGNATURE_MAGIC = b"~Module signature appended~\n"


def without_signature(module: bytes) -> bytes:
    """A kernel module with its appended signature cut off (the kernel then loads it without
    verifying an RSA signature, which under TCG costs ~0.1 s a module; the guest kernel does
    not enforce signatures)."""
    if not module.endswith(SIGNATURE_MAGIC):
        return module
    info = module[-len(SIGNATURE_MAGIC) - 12 : -len(SIGNATURE_MAGIC)]
    length = int(struct.unpack(">I", info[8:12])[0])
    return module[: -len(SIGNATURE_MAGIC) - 12 - length]
