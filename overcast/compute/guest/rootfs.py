"""The guest's root tree, assembled from unpacked packages: busybox and its applet links,
dropbear and the libraries it loads, the init scripts in `files/`, and the kernel modules the
initramfs loads. Called by `build`; the tree becomes the ext4 root partition.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from overcast.compute.guest import elf

FILES = Path(__file__).parent / "files"
LIBDIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu")
LOADER = "ld-linux-x86-64.so.2"

# Drivers for the disks, NICs, config drives and buttons QEMU gives a guest (with what they
# depend on); everything else of the kernel's 1,100 modules stays out.
MODULES = (
    "virtio_pci virtio_mmio virtio_blk virtio_scsi virtio_net virtio_rng virtio_console "
    "virtio_balloon sd_mod sr_mod ata_piix isofs vfat nls_cp437 nls_iso8859_1 nls_utf8 "
    "button evdev"
).split()

# (path in the guest, file in files/, mode)
ROOT_FILES = (
    ("etc/inittab", "inittab", 0o644),
    ("etc/mdev.conf", "mdev.conf", 0o644),
    ("etc/passwd", "passwd", 0o644),
    ("etc/group", "group", 0o644),
    ("etc/shadow", "shadow", 0o600),
    ("etc/shells", "shells", 0o644),
    ("etc/issue", "issue", 0o644),
    ("etc/acpi/PWRF/00000080", "acpi-power", 0o755),
    ("etc/overcast/lib.sh", "lib.sh", 0o644),
    ("etc/overcast/init", "init", 0o755),
    ("etc/overcast/user-data", "user-data", 0o755),
    ("etc/overcast/shutdown", "shutdown", 0o755),
    ("etc/overcast/disk-event", "disk-event", 0o755),
    ("etc/overcast/udhcpc.script", "udhcpc.script", 0o755),
)
DIRS = "bin sbin usr/bin usr/sbin dev proc sys run tmp mnt root var/lib/overcast var/log lib64"


@dataclass(frozen=True)
class Kernel:
    version: str
    vmlinuz: Path
    modules: list[Path]  # absolute paths, in load order
    modules_root: Path  # lib/modules/<version> of the unpacked package


def kernel(unpacked: Path) -> Kernel:
    """The kernel image and the modules to load, in dependency order, from its package."""
    (vmlinuz,) = sorted(unpacked.glob("boot/vmlinuz-*"))
    version = vmlinuz.name.removeprefix("vmlinuz-")
    modules_root = unpacked / "lib" / "modules" / version
    index = {_modname(p): p for p in modules_root.rglob("*.ko")}
    ordered: list[Path] = []

    def visit(name: str) -> None:
        path = index.get(name)
        if path is None or path in ordered:
            return
        for dep in elf.modinfo(path).get("depends", [""])[0].split(","):
            if dep:
                visit(dep.replace("-", "_"))
        ordered.append(path)

    for name in MODULES:
        if name not in index:
            raise FileNotFoundError(f"the guest kernel {version} has no module {name}")
        visit(name)
    return Kernel(version, vmlinuz, ordered, modules_root)


def assemble(
    root: Path, busybox: Path, dropbear: Path, e2fsprogs: Path, libraries: list[Path]
) -> None:
    """Fill the empty directory `root` with the guest's root filesystem."""
    for name in DIRS.split():
        (root / name).mkdir(parents=True, exist_ok=True)
    (root / "root").chmod(0o700)
    (root / "tmp").chmod(0o1777)
    shutil.copy2(busybox / "bin" / "busybox", root / "bin" / "busybox")
    for applet in applets(busybox / "bin" / "busybox"):
        link = root / applet
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to("/bin/busybox")
    for program in ("usr/sbin/dropbear", "usr/bin/dropbearkey", "usr/bin/dbclient"):
        shutil.copy2(dropbear / program, root / program)
    shutil.copy2(e2fsprogs / "sbin" / "resize2fs", root / "sbin" / "resize2fs")
    programs = ("usr/sbin/dropbear", "usr/bin/dbclient", "sbin/resize2fs")
    _libraries(root, [root / program for program in programs], libraries)
    for target, source, mode in ROOT_FILES:
        place(FILES / source, root / target, mode)
    (root / "etc" / "hostname").write_text("overcast-guest\n")
    (root / "etc" / "resolv.conf").write_text("")


def applets(busybox: Path) -> list[str]:
    """Where busybox's applets live (`bin/sh`, `sbin/udhcpc`...), asked of the binary itself:
    the static guest busybox runs on any x86-64 host without being installed."""
    out = subprocess.run([str(busybox), "--list-full"], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.split() if re.fullmatch(r"[a-z/]+/[\w.\[-]+", line)]


def place(source: Path, target: Path, mode: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(mode)


def _libraries(root: Path, programs: list[Path], packages: list[Path]) -> None:
    """Copy every shared library the programs load (and theirs), by soname."""
    found: dict[str, Path] = {}
    for package in packages:
        for libdir in LIBDIRS:
            for path in (package / libdir).glob("*.so*"):
                found.setdefault(path.name, path)
    todo = [*programs]
    copied: set[str] = set()
    while todo:
        for soname in elf.needed(todo.pop()):
            if soname in copied:
                continue
            if soname not in found:
                raise FileNotFoundError(f"no package provides {soname}")
            target = root / "lib" / "x86_64-linux-gnu" / soname
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found[soname].resolve(), target)
            target.chmod(0o755)
            copied.add(soname)
            todo.append(target)
    shutil.copyfile(found[LOADER].resolve(), root / "lib64" / LOADER)
    (root / "lib64" / LOADER).chmod(0o755)


def _modname(path: Path) -> str:
    return path.name.removesuffix(".ko").replace("-", "_")
