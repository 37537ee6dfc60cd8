"""What this host offers the qemu driver: whether QEMU runs at all, whether KVM really works
(a probe guest boots through the firmware under `-accel kvm -cpu host`, runs protected-mode
code and reports back), QEMU's version, the host's vCPUs, memory and disk, and the
unprivileged user QEMU runs as.

Called by the driver at `init_host` and by `drivers.choose` (is qemu usable here?).
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import shutil
import struct
import subprocess
import tempfile
import time
from functools import cache
from pathlib import Path

_PROBE_EXIT = 0x21 * 2 + 1  # isa-debug-exit turns the byte written into this exit status
_ORG = 0x7C00  # where the firmware loads a boot sector
_KVM_PATIENCE = 5.0  # s: the probe takes a fraction of that where KVM works, hangs where not


def _probe_disk() -> bytes:
    """A boot sector the firmware boots as it boots a guest's disk. It goes to 32-bit protected
    mode (no paging, as a kernel's set-up does), returns through an interrupt frame there
    (IRET), then writes 0x21 to port 0x501. Some hosts' KVM runs real mode but cannot emulate
    that IRET: every guest there dies in its boot loader ("KVM internal error"), so the probe
    must get that far before KVM is called working."""
    gdt, desc, code32 = 0x40, 0x60, 0x80
    sector = bytearray(512)
    sector[gdt : gdt + 24] = struct.pack("<QQQ", 0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF)
    sector[desc : desc + 6] = struct.pack("<HI", 23, _ORG + gdt)
    real = (
        bytes([0xFA, 0x31, 0xC0, 0x8E, 0xD8])  # cli; xor ax,ax; mov ds,ax
        + bytes([0x0F, 0x01, 0x16]) + struct.pack("<H", _ORG + desc)  # lgdt [desc]
        + bytes([0x0F, 0x20, 0xC0, 0x0C, 0x01, 0x0F, 0x22, 0xC0])  # cr0.PE = 1
        + bytes([0x66, 0xEA]) + struct.pack("<IH", _ORG + code32, 8)  # jmp dword 8:code32
    )  # fmt: skip
    prot = bytes([0x66, 0xB8, 0x10, 0x00, 0x8E, 0xD8, 0x8E, 0xD0])  # ds = ss = 0x10
    prot += bytes([0xBC]) + struct.pack("<I", 0x7000)  # mov esp, 0x7000
    after = _ORG + code32 + len(prot) + 8
    prot += bytes([0x9C, 0x0E, 0x68]) + struct.pack("<I", after) + bytes([0xCF])  # iretd
    prot += bytes([0xB0, 0x21, 0x66, 0xBA, 0x01, 0x05, 0xEE, 0xF4])  # out 0x501, 0x21; hlt
    sector[: len(real)] = real
    sector[code32 : code32 + len(prot)] = prot
    sector[510:] = b"\x55\xaa"
    return bytes(sector)


@cache
def qemu_usable(binary: str) -> bool:
    """QEMU is installed and can run a guest here (under TCG at least)."""
    return shutil.which(binary) is not None and _runs(binary, "tcg", "max")


@cache
def kvm_works(binary: str) -> bool:
    """/dev/kvm opens and a guest's code really runs under KVM with the host's CPU model."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK) or shutil.which(binary) is None:
        return False
    return _runs(binary, "kvm", "host", _KVM_PATIENCE)


def _runs(binary: str, accel: str, cpu: str, timeout: float = 10.0) -> bool:
    with tempfile.TemporaryDirectory(prefix="overcast-probe-") as tmp:
        disk = Path(tmp) / "probe.img"
        disk.write_bytes(_probe_disk())
        try:
            done = subprocess.run(
                _probe_argv(binary, accel, cpu, disk), capture_output=True, timeout=timeout
            )
        except (OSError, subprocess.TimeoutExpired):  # a KVM that cannot go on hangs
            return False
    return done.returncode == _PROBE_EXIT


def _probe_argv(binary: str, accel: str, cpu: str, disk: Path) -> list[str]:
    return [binary, "-accel", accel, "-cpu", cpu, "-M", "pc", "-nodefaults", "-no-user-config",
            "-display", "none", "-drive", f"file={disk},format=raw,if=ide",
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
            disk = Path(tmp) / "probe.img"
            disk.write_bytes(_probe_disk())
            argv = _probe_argv(binary, "kvm", "host", disk)
            status, _ = await _exit_status(*argv, timeout=_KVM_PATIENCE)
            kvm = status == _PROBE_EXIT
    _, out = await _exit_status(binary, "--version")
    _PROBED[binary] = (kvm, _parse_version(out))
    return _PROBED[binary]


def guest_user(name: str) -> str | None:
    """The system user QEMU drops to (`-runas`): `name`, created as a locked system account
    when missing. None when Overcast is not root (QEMU then runs as Overcast's user anyway),
    when no user is configured, or when the account cannot be made (QEMU then stays root)."""
    if os.geteuid() != 0 or not name:
        return None
    for attempt in range(5):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            if attempt:  # another agent's useradd held the lock: give it time
                time.sleep(0.2 * attempt)
        # A concurrent agent may create it first: useradd then fails and the lookup decides.
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
             "/nonexistent", "--shell", "/usr/sbin/nologin", "--comment", "Overcast QEMU", name],
            capture_output=True, check=False,
        )  # fmt: skip
    return None
