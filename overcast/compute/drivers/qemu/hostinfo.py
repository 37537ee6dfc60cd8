"""What this host offers the qemu driver: whether QEMU runs at all, whether KVM really works
(a probe guest runs code under `-accel kvm -cpu host` and reports back), QEMU's version, and
the host's vCPUs, memory and disk.

Called by the driver at `init_host` and by `drivers.choose` (is qemu usable here?).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

_PROBE_EXIT = 0x21 * 2 + 1  # isa-debug-exit turns the byte written into this exit status


def _probe_bios() -> bytes:
    """64 KiB of firmware whose reset vector writes 0x21 to port 0x501, then halts."""
    bios = bytearray(b"\xf4" * 65536)
    code = bytes([0xB0, 0x21, 0xBA, 0x01, 0x05, 0xEE, 0xF4])  # mov al; mov dx; out dx,al; hlt
    bios[0xFFF0 : 0xFFF0 + len(code)] = code
    return bytes(bios)


@cache
def qemu_usable(binary: str) -> bool:
    """QEMU is installed and can run a guest here (under TCG at least)."""
    return shutil.which(binary) is not None and _runs(binary, "tcg", "max")


@cache
def kvm_works(binary: str) -> bool:
    """/dev/kvm opens and a guest's code really runs under KVM with the host's CPU model."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK) or shutil.which(binary) is None:
        return False
    return _runs(binary, "kvm", "host")


def _runs(binary: str, accel: str, cpu: str) -> bool:
    with tempfile.TemporaryDirectory(prefix="overcast-probe-") as tmp:
        bios = Path(tmp) / "probe.bin"
        bios.write_bytes(_probe_bios())
        try:
            done = subprocess.run(
                _probe_argv(binary, accel, cpu, bios), capture_output=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
    return done.returncode == _PROBE_EXIT


def _probe_argv(binary: str, accel: str, cpu: str, bios: Path) -> list[str]:
    return [binary, "-accel", accel, "-cpu", cpu, "-M", "pc", "-nodefaults", "-no-user-config",
            "-display", "none", "-bios", str(bios),
            "-device", "isa-debug-exit,iobase=0x501,iosize=1"]  # fmt: skip


def _parse_version(out: str) -> int:
    """Nova's integer form: 7.2.22 -> 7002022."""
    found = re.search(r"version (\d+)\.(\d+)\.(\d+)", out)
    if not found:
        return 0
    major, minor, micro = (int(x) for x in found.groups())
    return major * 1_000_000 + minor * 1_000 + micro


def memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


def disk_gb(path: Path) -> int:
    return shutil.disk_usage(path).total >> 30


def vcpus() -> int:
    return len(os.sched_getaffinity(0))


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


_PROBED: dict[str, tuple[bool, int]] = {}


async def _exit_status(*argv: str, timeout: float = 10.0) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -1, ""
    return proc.returncode or 0, out.decode(errors="replace")


async def probe(binary: str) -> tuple[bool, int]:
    """(KVM works, QEMU version), probed with the event loop's own subprocesses, once."""
    if binary in _PROBED:
        return _PROBED[binary]
    kvm = False
    if os.access("/dev/kvm", os.R_OK | os.W_OK) and shutil.which(binary):
        with tempfile.TemporaryDirectory(prefix="overcast-probe-") as tmp:
            bios = Path(tmp) / "probe.bin"
            bios.write_bytes(_probe_bios())
            status, _ = await _exit_status(*_probe_argv(binary, "kvm", "host", bios))
            kvm = status == _PROBE_EXIT
    _, out = await _exit_status(binary, "--version")
    _PROBED[binary] = (kvm, _parse_version(out))
    return _PROBED[binary]
