"""The format inspector alone: detection, virtual sizes and safety verdicts (no server)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from overcast.common import errors
from overcast.image import formats
from tests.image import samples

MIB = samples.MIB


def inspect(data: bytes, chunk: int = 65536) -> formats.Detected:
    inspector = formats.Inspector()
    for at in range(0, len(data), chunk):
        inspector.feed(data[at : at + chunk])
    return inspector.verdict()


SAFE = [
    ("qcow2", samples.qcow2(16 * MIB), 16 * MIB),
    ("qcow2", samples.qcow2(8 * MIB, version=2), 8 * MIB),
    ("vmdk", samples.vmdk(4 * MIB), 4 * MIB),
    ("vmdk", samples.vmdk(4 * MIB, create_type="streamOptimized"), 4 * MIB),
    ("vhd", samples.vhd_fixed(1 * MIB), 1 * MIB),
    ("vhd", samples.vhd_dynamic(32 * MIB), 32 * MIB),
    ("vhdx", samples.vhdx(64 * MIB), 64 * MIB),
    ("vdi", samples.vdi(16 * MIB), 16 * MIB),
    ("iso", samples.iso(64), 64 * 2048),
    ("gpt", samples.mbr_disk(1 * MIB), 1 * MIB),
    ("raw", b"\x01" * 5000, 5000),
    ("raw", b"", 0),
]


@pytest.mark.parametrize(("kind", "data", "virtual"), SAFE)
@pytest.mark.parametrize("chunk", [511, 65536, 4 << 20])
def test_detects_format_and_virtual_size(kind: str, data: bytes, virtual: int, chunk: int) -> None:
    found = inspect(data, chunk)
    assert (found.format, found.virtual_size, found.unsafe) == (kind, virtual, None)


UNSAFE = [
    (samples.qcow2(backing="/etc/shadow"), "backing file"),
    (samples.qcow2(backing="/etc/shadow", version=2), "backing file"),
    (samples.qcow2(data_file="/dev/sda"), "data file"),
    (samples.vmdk_descriptor("/etc/passwd"), "descriptor"),
    (
        samples.vmdk(create_type="monolithicFlat", extent='RW {sectors} FLAT "/etc/passwd" 0'),
        "createType",
    ),
    (samples.vmdk(extent='RW {sectors} SPARSE "/var/lib/other.vmdk"'), "extent"),
    (samples.vmdk(extent='RW {sectors} SPARSE "a.vmdk"\nRW 10 SPARSE "b.vmdk"'), "extents"),
    (samples.vhd_dynamic(differencing=True), "differencing"),
    (samples.vhdx(parent=True), "differencing"),
    (samples.vdi(differencing=True), "differencing"),
    (b"QFI\xfb\x00\x00", "truncated"),
]


@pytest.mark.parametrize(("data", "why"), UNSAFE)
def test_refuses_images_that_reach_host_files(data: bytes, why: str) -> None:
    found = inspect(data)
    assert found.unsafe is not None and why in found.unsafe
    with pytest.raises(errors.BadRequest, match="unsafe"):
        formats.check(found.format, "bare", found)
    with pytest.raises(errors.BadRequest, match="unsafe"):  # whatever the declared format
        formats.check("raw", "ova", found)


@pytest.mark.parametrize(
    ("declared", "data", "ok"),
    [
        ("raw", samples.qcow2(), False),
        ("qcow2", b"\x00" * 4096, False),
        ("vmdk", samples.qcow2(), False),
        ("iso", samples.mbr_disk(), False),
        ("raw", samples.mbr_disk(), True),
        ("raw", samples.iso(), True),
        ("gpt", samples.mbr_disk(), True),
        ("qcow2", samples.qcow2(), True),
        ("aki", b"\x7fELF kernel", True),
        ("ploop", samples.qcow2(), True),
    ],
)
def test_declared_format_must_match_for_bare_containers(
    declared: str, data: bytes, ok: bool
) -> None:
    found = inspect(data)
    if ok:
        formats.check(declared, "bare", found)
    else:
        with pytest.raises(errors.BadRequest, match="format"):
            formats.check(declared, "bare", found)
    formats.check(declared, "ova", found)  # an archive's bytes are the archive's


def test_inspector_keeps_only_head_and_tail() -> None:
    inspector = formats.Inspector()
    block = b"\x00" * MIB
    for _ in range(40):
        inspector.feed(block)
    assert inspector.size == 40 * MIB
    assert len(inspector._head) == formats.HEAD_BYTES
    assert len(inspector._tail) == formats.TAIL_BYTES


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed")
@pytest.mark.parametrize(
    ("qemu_format", "data"),
    [
        ("qcow2", samples.qcow2()),
        ("vmdk", samples.vmdk()),
        ("vpc", samples.vhd_dynamic()),
        ("vdi", samples.vdi()),
    ],
)
def test_samples_are_real_images(tmp_path: Path, qemu_format: str, data: bytes) -> None:
    path = tmp_path / "disk"
    path.write_bytes(data)
    out = subprocess.run(
        ["qemu-img", "info", "--output=json", str(path)], capture_output=True, text=True, check=True
    )
    info = json.loads(out.stdout)
    assert info["format"] == qemu_format
    assert info["virtual-size"] == inspect(data).virtual_size
