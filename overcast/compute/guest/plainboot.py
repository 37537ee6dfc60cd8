"""Boot a disk image under plain `qemu-system-x86_64` (no Overcast) and time it to the guest's
login banner on the serial console. Used by `overcast image build --verify`, the guest tests
and `bench/boot.py` (the baseline beside Overcast's own boots), and to compare machine types.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from overcast.common import parent

BANNER = "overcast-guest login banner:"
SEABIOS_MICROVM = Path("/usr/share/seabios/bios-microvm.bin")
QBOOT = Path("/usr/share/qemu/qboot.rom")


@dataclass(frozen=True)
class Machine:
    """How QEMU runs the guest: the knobs the machine-type measurement compares."""

    # The fastest to boot a disk image under TCG, measured (README, "The guest image"): q35
    # (pc probes its IDE channels), SeaBIOS (qboot boots no disks), Nehalem (as cheap as
    # qemu64, and x86-64-v2 as current distributions require; `max` costs 10-40% more).
    machine: str = "q35"
    firmware: str = "seabios"  # or "qboot"
    cpu: str = "Nehalem"
    accel: str = "tcg"
    memory_mb: int = 256
    vcpus: int = 1
    nic: bool = True  # a virtio NIC on QEMU's user-mode network (DHCP, NAT)

    def argv(self, disk: Path, config_drive: Path | None = None, net: str = "") -> list[str]:
        """QEMU's command line; `net` adds options to the user-mode network (",hostfwd=...")."""
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
        ]
        if self.nic:
            argv += ["-netdev", "user,id=net0" + net, "-device", f"virtio-net-{bus},netdev=net0"]
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


class Guest:
    """A running plain-QEMU guest whose serial console is read line by line."""

    def __init__(self, process: asyncio.subprocess.Process, started: float) -> None:
        self.process = process
        self.started = started
        self.console: list[str] = []
        self._read = 0  # console lines `wait_for` has looked at

    async def wait_for(self, text: str, timeout: float) -> str | None:
        """The first console line from here on that contains `text` (None after `timeout`
        seconds or when QEMU exits first)."""
        try:
            return await asyncio.wait_for(self._until(text), timeout)
        except TimeoutError:
            return None

    async def _until(self, text: str) -> str | None:
        assert self.process.stdout is not None
        while True:
            while self._read < len(self.console):
                line = self.console[self._read]
                self._read += 1
                if text in line:
                    return line
            raw = await self.process.stdout.readline()
            if not raw:
                return None
            self.console.append(raw.decode(errors="replace").rstrip("\r\n"))

    def cpu_seconds(self) -> float | None:
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def running(
    image: Path,
    machine: Machine,
    config_drive: Path | None = None,
    extra: tuple[str, ...] = (),
    net: str = "",
    disk_size: str | None = None,
) -> AsyncIterator[Guest]:
    """QEMU running `image` through a throw-away qcow2 overlay (of `disk_size`, e.g. "1G",
    when given: a disk grown as a flavor grows it); killed on leaving."""
    with tempfile.TemporaryDirectory(prefix="overcast-plainboot-") as scratch:
        overlay = Path(scratch) / "disk.qcow2"
        image = await asyncio.to_thread(image.resolve)
        create = await asyncio.create_subprocess_exec(
            *("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(image)),
            str(overlay),
            *([disk_size] if disk_size else []),
        )
        if await create.wait() != 0:
            raise RuntimeError(f"qemu-img could not make an overlay of {image}")
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            *machine.argv(overlay, config_drive, net),
            *extra,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        try:
            yield Guest(process, started)
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()


def _die_with_parent() -> None:
    """In the child before exec: the kernel kills this QEMU if its parent dies, so that a
    killed test or bench run leaves no guest behind."""
    parent.end_with_parent(signal.SIGKILL)


async def boot(
    image: Path, machine: Machine, config_drive: Path | None = None, timeout: float = 120.0
) -> Boot:
    """Boot `image` until its login banner, then stop it: how long that took."""
    async with running(image, machine, config_drive) as guest:
        line = await guest.wait_for(BANNER, timeout)
        if line is None:
            return Boot(None, console=guest.console)
        return Boot(time.monotonic() - guest.started, guest.cpu_seconds(), guest.console)


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
