"""Boot a disk image under plain `qemu-system-x86_64` (no Overcast) and time it to the guest's
login banner on the serial console. Used by `overcast image build --verify`, the guest tests
and `bench/boot.py` (the baseline beside Overcast's own boots), and to compare machine types.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BANNER = "overcast-guest login banner:"
SEABIOS_MICROVM = Path("/usr/share/seabios/bios-microvm.bin")
QBOOT = Path("/usr/share/qemu/qboot.rom")


@dataclass(frozen=True)
class Machine:
    """How QEMU runs the guest: the knobs the machine-type measurement compares."""

    machine: str = "pc"
    firmware: str = "seabios"  # or "qboot"
    cpu: str = "qemu64"
    accel: str = "tcg"
    memory_mb: int = 256
    vcpus: int = 1

    def argv(self, disk: Path, config_drive: Path | None = None) -> list[str]:
        mmio = self.machine == "microvm"
        bus = "device" if mmio else "pci"
        argv = [
            "qemu-system-x86_64",
            "-machine",
            f"{self.machine},accel={self.accel}",
            "-cpu",
            self.cpu,
            "-m",
            str(self.memory_mb),
            "-smp",
            str(self.vcpus),
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-serial",
            "stdio",
            "-drive",
            f"file={disk},if=none,id=root,format=qcow2,cache=writeback",
            "-device",
            f"virtio-blk-{bus},drive=root" + ("" if mmio else ",bootindex=0"),
            "-netdev",
            "user,id=net0",
            "-device",
            f"virtio-net-{bus},netdev=net0",
        ]
        if self.firmware == "qboot":
            argv += ["-bios", str(QBOOT)]
        elif mmio:
            argv += ["-bios", str(SEABIOS_MICROVM)]
        if config_drive is not None:
            argv += [
                "-drive",
                f"file={config_drive},if=none,id=config,format=raw,readonly=on",
                "-device",
                f"virtio-blk-{bus},drive=config",
            ]
        return argv


@dataclass
class Boot:
    banner_s: float | None  # seconds from start to the banner; None when it never came
    cpu_s: float | None = None  # CPU time QEMU had used by then (steadier on a busy host)
    console: list[str] = field(default_factory=list)


async def boot(
    image: Path,
    machine: Machine,
    config_drive: Path | None = None,
    timeout: float = 120.0,
    until: str = BANNER,
    after_banner: float = 0.0,
) -> Boot:
    """Boot `image` (through a throw-away qcow2 overlay) until a console line contains `until`,
    then `after_banner` seconds more (to collect what follows); then stop QEMU."""
    with tempfile.TemporaryDirectory(prefix="overcast-plainboot-") as scratch:
        overlay = Path(scratch) / "disk.qcow2"
        image = await asyncio.to_thread(image.resolve)
        create = await asyncio.create_subprocess_exec(
            *("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(image)),
            str(overlay),
        )
        if await create.wait() != 0:
            raise RuntimeError(f"qemu-img could not make an overlay of {image}")
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            *machine.argv(overlay, config_drive),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        result = Boot(banner_s=None)
        try:
            await asyncio.wait_for(_read(process, result, started, until), timeout)
            if after_banner:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_read(process, result, started, None), after_banner)
        except TimeoutError:
            pass
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()
        return result


async def _read(
    process: asyncio.subprocess.Process, result: Boot, started: float, until: str | None
) -> None:
    assert process.stdout is not None
    while line := await process.stdout.readline():
        text = line.decode(errors="replace").rstrip("\r\n")
        result.console.append(text)
        if until is not None and until in text:
            result.banner_s = time.monotonic() - started
            result.cpu_s = _cpu_seconds(process.pid)
            return


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def config_drive(target: Path, meta_data: str, user_data: str | None = None) -> Path:
    """An OpenStack config drive (ISO 9660, label config-2) holding meta_data.json and
    user_data, as a test or the baseline boot hands the guest."""
    with tempfile.TemporaryDirectory() as scratch:
        latest = Path(scratch) / "openstack" / "latest"
        latest.mkdir(parents=True)
        (latest / "meta_data.json").write_text(meta_data)
        if user_data is not None:
            (latest / "user_data").write_text(user_data)
        subprocess.run(
            ["genisoimage", "-quiet", "-o", str(target), "-V", "config-2", "-r", "-J", scratch],
            check=True,
        )
    return target
