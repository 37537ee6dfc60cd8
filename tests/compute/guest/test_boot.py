"""The guest image booted under plain QEMU (TCG) as a cloud boots it, through its firmware
and boot loader, with a config drive made here: its banner, its user_data script, SSH with the
injected key through dropbear, a hot-plugged disk reported on the console, ACPI power-off.

One guest serves the whole module (boots are costly under TCG); the power-off test is last.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from qemu.qmp import QMPClient

from overcast.compute.guest import build, plainboot

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.xdist_group("guest-boot")]

INSTANCE = "6c0b6a8e-1d2f-4a57-9d1e-6f1c2a3b4c5d"
BOOT_TIMEOUT = 180.0  # TCG on a busy 2-core host


class Booted:
    def __init__(self, guest: plainboot.Guest, qmp: QMPClient, key: Path, port: int) -> None:
        self.guest, self.qmp, self.key, self.port = guest, qmp, key, port
        self.banner: str | None = None


async def _run(*argv: str) -> None:
    await asyncio.to_thread(subprocess.run, argv, check=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def booted(
    guest_image: build.Built, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Booted]:
    work = tmp_path_factory.mktemp("guest-boot")
    key = work / "id_ed25519"
    await _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    meta = {
        "uuid": INSTANCE,
        "name": "test-vm",
        "hostname": "test-vm.novalocal",
        "public_keys": {"mykey": key.with_suffix(".pub").read_text()},
    }
    drive = plainboot.config_drive(
        work / "config.iso", json.dumps(meta), "#!/bin/sh\necho user-data-ran-on $(hostname)\n"
    )
    qmp_path = work / "qmp.sock"
    port = _free_port()
    async with plainboot.running(
        guest_image.path,
        plainboot.Machine(),
        drive,
        # q35's root bus takes no hot-plugged device: a free root port does, as Nova adds them.
        extra=(
            *("-qmp", f"unix:{qmp_path},server=on,wait=off"),
            *("-device", "pcie-root-port,id=hotplug1,bus=pcie.0,chassis=1"),
        ),
        net=f",hostfwd=tcp:127.0.0.1:{port}-:22",
        disk_size="512M",
    ) as guest:
        qmp = QMPClient("guest-test")
        for _ in range(50):
            if qmp_path.exists():
                break
            await asyncio.sleep(0.1)
        await qmp.connect(str(qmp_path))
        booted = Booted(guest, qmp, key, port)
        booted.banner = await guest.wait_for(plainboot.BANNER, BOOT_TIMEOUT)
        try:
            yield booted
        finally:
            with contextlib.suppress(EOFError, OSError):  # QEMU is gone after the power-off
                await qmp.disconnect()


async def test_banner_names_hostname_addresses_and_instance(booted: Booted) -> None:
    assert booted.banner is not None, "\n".join(booted.guest.console[-30:])
    assert re.fullmatch(
        rf"overcast-guest login banner: hostname=test-vm addresses=10\.0\.2\.15\S* "
        rf"instance={INSTANCE} metadata=config-drive",
        booted.banner.strip(),
    ), booted.banner
    # Disks present at boot are not reported as hot-plugged.
    assert not [line for line in booted.guest.console if "disk added" in line]


async def test_user_data_script_runs_with_its_output_on_the_console(booted: Booted) -> None:
    line = await booted.guest.wait_for("user-data-ran-on", 60)
    assert line is not None and line.strip() == "user-data-ran-on test-vm"
    assert await booted.guest.wait_for("overcast-guest: user_data exited 0", 30)


async def _ssh(
    booted: Booted, command: str, key: Path | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [
        "ssh", "-i", str(key or booted.key), "-p", str(booted.port), "-o", "IdentitiesOnly=yes",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "BatchMode=yes", "-o", "ConnectTimeout=180", "-o", "LogLevel=ERROR",
        "root@127.0.0.1", command,
    ]  # fmt: skip
    # A guest starved of CPU may reset the first connections (dropbear makes its host key on
    # the first one): retry those, never a refusal.
    for _ in range(3):
        done = await asyncio.to_thread(
            subprocess.run, argv, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 255 or "Permission denied" in done.stderr:
            break
    return done


async def test_dropbear_accepts_the_injected_key(booted: Booted) -> None:
    done = await _ssh(booted, "hostname")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "test-vm"


async def test_ssh_without_the_key_is_refused(booted: Booted, tmp_path: Path) -> None:
    other = tmp_path / "other"
    await _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other))
    done = await _ssh(booted, "true", key=other)
    assert done.returncode == 255 and "Permission denied" in done.stderr


async def test_root_grows_to_fill_the_disk(booted: Booted) -> None:
    """The 128 MiB image on a 512 MiB disk: partition and filesystem grown at first boot."""
    sectors = await _ssh(booted, "cat /sys/class/block/vda2/size")
    assert int(sectors.stdout) == (512 - 33) * 2048, sectors.stderr
    for _ in range(60):  # resize2fs runs in the background after the banner
        df = await _ssh(booted, "df -k / | tail -1")
        if int(df.stdout.split()[1]) > 400 * 1024:
            return
        await asyncio.sleep(1)
    raise AssertionError(f"the root filesystem did not grow: {df.stdout}")


async def test_hot_plugged_disk_is_reported_on_the_console(booted: Booted, tmp_path: Path) -> None:
    volume = tmp_path / "volume.qcow2"
    await _run("qemu-img", "create", "-q", "-f", "qcow2", str(volume), "16M")
    await booted.qmp.execute(
        "blockdev-add",
        {
            "node-name": "vol1",
            "driver": "qcow2",
            "file": {"driver": "file", "filename": str(volume)},
        },
    )
    await booted.qmp.execute(
        "device_add",
        {"driver": "virtio-blk-pci", "drive": "vol1", "id": "vol1dev", "bus": "hotplug1"},
    )
    assert await booted.guest.wait_for("overcast-guest: disk added vdc", 60), "\n".join(
        booted.guest.console[-10:]
    )
    await booted.qmp.execute("device_del", {"id": "vol1dev"})
    assert await booted.guest.wait_for("overcast-guest: disk removed vdc", 60)


async def test_acpi_power_button_powers_the_guest_off(booted: Booted) -> None:
    await booted.qmp.execute("system_powerdown")
    await asyncio.wait_for(booted.guest.process.wait(), 90)
    assert booted.guest.process.returncode == 0
