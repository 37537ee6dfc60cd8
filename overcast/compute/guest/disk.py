"""The guest's bootable disk, assembled in a raw file without mounting anything: an MBR with
syslinux's boot code, partition 1 a FAT boot partition (syslinux, kernel, initramfs),
partition 2 the ext4 root (`mkfs.ext4 -d`); then converted to qcow2. Called by `build`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from overcast.compute.guest import rootfs

SECTOR = 512
MIB = 1 << 20
BOOT_MIB = 32
ROOT_MIB = 95
ROOT_LABEL = "overcast-root"
SYSLINUX_MBR = Path("/usr/lib/syslinux/mbr/mbr.bin")
# Debian packages holding the host tools below (listed in packages.txt).
TOOLS = {
    "mkfs.fat": "dosfstools",
    "mcopy": "mtools",
    "syslinux": "syslinux",
    "mkfs.ext4": "e2fsprogs",
    "sfdisk": "fdisk",
    "qemu-img": "qemu-utils",
}


class ToolMissing(RuntimeError):
    """A host tool the disk needs is not installed."""


def check_tools() -> None:
    missing = [f"{tool} ({pkg})" for tool, pkg in TOOLS.items() if not _which(tool)]
    if not SYSLINUX_MBR.exists():
        missing.append(f"{SYSLINUX_MBR} (syslinux-common)")
    if missing:
        raise ToolMissing("the guest image build needs: " + ", ".join(missing))


def write(target: Path, work: Path, root: Path, vmlinuz: Path, initrd: Path) -> None:
    """Build the qcow2 disk `target` from the root tree and the boot files."""
    boot_start = MIB
    root_start = boot_start + BOOT_MIB * MIB
    raw = work / "disk.raw"
    with raw.open("wb") as handle:
        handle.truncate(root_start + ROOT_MIB * MIB)
    table = (
        "label: dos\n"
        f"start={boot_start // SECTOR}, size={BOOT_MIB * MIB // SECTOR}, type=6, bootable\n"
        f"start={root_start // SECTOR}, size={ROOT_MIB * MIB // SECTOR}, type=83\n"
    )
    _run(["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", str(raw)], stdin=table)
    _splice(raw, 0, SYSLINUX_MBR.read_bytes()[:440])

    boot = work / "boot.img"
    _run(
        [
            "mkfs.fat",
            "-F",
            "16",
            "-n",
            "OVERCAST",
            "-h",
            str(boot_start // SECTOR),
            "-C",
            str(boot),
            str(BOOT_MIB * 1024),
        ]
    )
    for source, name in (
        (vmlinuz, "vmlinuz"),
        (initrd, "initrd.img"),
        (rootfs.FILES / "syslinux.cfg", "syslinux.cfg"),
    ):
        _run(["mcopy", "-i", str(boot), str(source), f"::/{name}"])
    _copy_into(raw, boot_start, boot)
    _run(["syslinux", "--offset", str(boot_start), "--install", str(raw)])

    ext4 = work / "root.img"
    _run(
        [
            "mkfs.ext4",
            "-q",
            "-F",
            "-L",
            ROOT_LABEL,
            "-d",
            str(root),
            "-E",
            "root_owner=0:0",
            str(ext4),
            f"{ROOT_MIB}M",
        ]
    )
    _copy_into(raw, root_start, ext4)
    _run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(target)])


def _splice(raw: Path, offset: int, data: bytes) -> None:
    with raw.open("r+b") as handle:
        handle.seek(offset)
        handle.write(data)


def _copy_into(raw: Path, offset: int, image: Path) -> None:
    """Copy `image` into `raw` at `offset`, leaving holes where the image is zeros."""
    chunk = MIB
    with raw.open("r+b") as out, image.open("rb") as src:
        position = offset
        while block := src.read(chunk):
            if block.count(0) != len(block):
                out.seek(position)
                out.write(block)
            position += len(block)


def _run(argv: list[str], stdin: str | None = None) -> None:
    try:
        subprocess.run(argv, input=stdin, capture_output=True, text=True, check=True)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"{' '.join(argv)} failed: {exc.stderr.strip()[-500:]}") from exc


def _which(tool: str) -> bool:
    return shutil.which(tool) is not None or shutil.which(tool, path="/usr/sbin:/sbin") is not None
