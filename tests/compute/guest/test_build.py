"""The guest image as built: a qcow2 disk with an MBR boot loader, a FAT boot partition
holding syslinux, the kernel and the initramfs, an ext4 root; cached by its inputs."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from overcast.compute.guest import build, elf

from .conftest import GUEST_DIR

MIB = 1 << 20


@pytest.fixture(scope="module")
def raw(guest_image: build.Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("raw") / "disk.raw"
    subprocess.run(
        ["qemu-img", "convert", "-O", "raw", str(guest_image.path), str(target)], check=True
    )
    return target


def test_image_is_qcow2_without_backing_file(guest_image: build.Built) -> None:
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output", "json", str(guest_image.path)],
            capture_output=True,
            check=True,
        ).stdout
    )
    assert info["format"] == "qcow2"
    assert "backing-filename" not in info
    assert info["virtual-size"] == 128 * MIB
    assert guest_image.path.stat().st_size < 40 * MIB  # small: a kernel, busybox, dropbear


def test_mbr_boot_code_and_partitions(raw: Path) -> None:
    with raw.open("rb") as handle:
        mbr = handle.read(512)
    assert mbr[510:512] == b"\x55\xaa"
    assert mbr[:440].strip(b"\0"), "no boot code in the MBR"
    entries = [struct.unpack_from("<B3xB3xII", mbr, 446 + 16 * i) for i in range(4)]
    (boot_flag, boot_type, boot_start, boot_size), (root_flag, root_type, root_start, _) = entries[
        :2
    ]
    assert (boot_flag, boot_type, boot_start) == (0x80, 0x06, 2048)
    assert (root_flag, root_type, root_start) == (0, 0x83, 2048 + boot_size)
    assert entries[2][2] == entries[3][2] == 0


def test_boot_partition_holds_syslinux_kernel_initramfs(raw: Path) -> None:
    listing = subprocess.run(
        ["mdir", "-a", "-b", "-i", f"{raw}@@{MIB}", "::/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    for name in ("ldlinux.sys", "ldlinux.c32", "syslinux.cfg", "vmlinuz", "initrd.img"):
        assert f"::/{name}" in listing
    config = subprocess.run(
        ["mtype", "-i", f"{raw}@@{MIB}", "::/syslinux.cfg"], capture_output=True, text=True
    ).stdout
    assert "console=ttyS0" in config


def test_root_partition_is_ext4_labelled_overcast_root(raw: Path) -> None:
    with raw.open("rb") as handle:
        handle.seek(33 * MIB + 1024)
        superblock = handle.read(1024)
    assert superblock[56:58] == b"\x53\xef"  # ext2/3/4 magic
    assert superblock[120:136].rstrip(b"\0") == b"overcast-root"


def test_second_ensure_reuses_the_image(guest_image: build.Built) -> None:
    before = guest_image.path.stat().st_mtime_ns
    again = build.ensure(GUEST_DIR)
    assert not again.built
    assert again.key == guest_image.key
    assert again.path.stat().st_mtime_ns == before


def test_inputs_change_the_cache_key() -> None:
    assert build._key({"busybox-static": "1"}) != build._key({"busybox-static": "2"})


def test_cli_says_the_image_is_up_to_date(guest_image: build.Built, tmp_path: Path) -> None:
    env = {**os.environ, "OVERCAST_COMPUTE__GUEST_IMAGE_DIR": str(GUEST_DIR)}
    out = subprocess.run(
        [sys.executable, "-m", "overcast.cli", "image", "build", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert f"guest image up to date: {guest_image.path}" in out


def test_module_signature_is_cut_off() -> None:
    body = b"\x7fELF module body"
    signature = b"S" * 300
    info = struct.pack(">BBBBBxxxI", 0, 0, 2, 0, 0, len(signature))
    signed = body + signature + info + elf.SIGNATURE_MAGIC
    assert elf.without_signature(signed) == body
    assert elf.without_signature(body) == body
