"""The guest's initramfs: busybox, the driver modules and a small /init that finds the root
filesystem by label and switches to it. Written as a gzip'd newc cpio archive by this module
itself, so that device nodes need no privileges. Called by `build`.
"""

from __future__ import annotations

import gzip
import stat
from pathlib import Path

from overcast.compute.guest import elf, rootfs

APPLETS = (
    *("sh", "mount", "umount", "insmod", "findfs", "seq", "sleep", "switch_root"),
    *("cat", "dd", "printf", "blockdev", "readlink", "basename", "hexdump"),
)


class Cpio:
    """A newc ("070701") archive being written: directories, files, symlinks, device nodes."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.ino = 0

    def entry(
        self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)
    ) -> None:
        self.ino += 1
        encoded = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        header = b"070701" + b"".join(b"%08X" % value for value in fields)
        self.parts += [header, encoded, _pad(len(header) + len(encoded)), data, _pad(len(data))]

    def directory(self, name: str) -> None:
        self.entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self.entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self.entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name: str, major: int, minor: int) -> None:
        self.entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self) -> bytes:
        self.entry("TRAILER!!!", 0)
        body = b"".join(self.parts)
        return body + b"\0" * (-len(body) % 512)


def write(target: Path, busybox: Path, kernel: rootfs.Kernel) -> None:
    archive = Cpio()
    for name in ("bin", "dev", "proc", "sys", "root", "lib", "lib/modules"):
        archive.directory(name)
    archive.chardev("dev/console", 5, 1)
    archive.chardev("dev/null", 1, 3)
    archive.file("bin/busybox", busybox.read_bytes(), 0o755)
    for applet in APPLETS:
        archive.symlink(f"bin/{applet}", "busybox")
    order = []
    for module in kernel.modules:
        archive.file(f"lib/modules/{module.name}", elf.without_signature(module.read_bytes()))
        order.append(module.name)
    archive.file("lib/modules/load.order", ("\n".join(order) + "\n").encode())
    archive.file("init", (rootfs.FILES / "initramfs-init").read_bytes(), 0o755)
    target.write_bytes(gzip.compress(archive.finish(), compresslevel=6, mtime=0))


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)
