"""The compute driver contract, run over every driver: fake, and qemu (real QEMU processes
booting a blank disk: the firmware runs, which is all the contract needs).

Each test states one promise of `overcast.compute.drivers.Driver`."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from overcast.common import errors
from overcast.common.config import Settings
from overcast.compute import drivers, states
from overcast.compute.drivers.qemu import disks, hostinfo

DRIVERS = [
    "fake",
    pytest.param(
        "qemu",
        marks=pytest.mark.skipif(
            not hostinfo.qemu_usable("qemu-system-x86_64"), reason="QEMU cannot run here"
        ),
    ),
]


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    async def lifecycle_event(self, instance_uuid: str, power_state: int) -> None:
        self.events.append((instance_uuid, power_state))


@pytest.fixture(params=DRIVERS)
async def driver(request: Any, tmp_path: Path) -> Any:
    settings = Settings(data_dir=tmp_path)
    settings.compute.qemu.unplug_timeout = 1.0  # a guest with no OS never lets a device go
    d = drivers.load(settings, Recorder(), request.param)
    d.name = request.param  # type: ignore[attr-defined]
    await d.init_host("host-a")
    yield d
    await d.cleanup_host()


def _spec(uuid: str = "11111111-1111-1111-1111-111111111111", **kw: Any) -> drivers.InstanceSpec:
    flavor = {"vcpus": 1, "memory_mb": 64, "root_gb": 1, "extra_specs": {}}
    return drivers.InstanceSpec(
        uuid=uuid, name="instance-00000001", hostname="vm", flavor=flavor, **kw
    )


async def test_resources_are_reported(driver: drivers.Driver) -> None:
    node = await driver.get_available_resources()
    assert node.hypervisor_hostname and node.vcpus > 0 and node.memory_mb > 0


async def test_spawn_power_and_destroy(driver: drivers.Driver) -> None:
    spec = _spec()
    await driver.spawn(spec)
    assert spec.uuid in await driver.list_instances()
    assert (await driver.get_info(spec.uuid)).power_state == states.RUNNING
    await driver.power_off(spec.uuid)
    await driver.power_off(spec.uuid)  # idempotent
    assert (await driver.get_info(spec.uuid)).power_state == states.SHUTDOWN
    await driver.power_on(spec.uuid)
    await driver.reboot(spec.uuid, hard=True)
    assert (await driver.get_info(spec.uuid)).power_state == states.RUNNING
    await driver.destroy(spec.uuid)
    await driver.destroy(spec.uuid)  # destroying an unknown guest succeeds
    with pytest.raises(errors.NotFound):
        await driver.get_info(spec.uuid)


async def test_optional_actions(driver: drivers.Driver, tmp_path: Path) -> None:
    spec = _spec()
    await driver.spawn(spec)
    caps = driver.capabilities
    if caps.supports_pause:
        await driver.pause(spec.uuid)
        assert (await driver.get_info(spec.uuid)).power_state == states.PAUSED_POWER
        await driver.unpause(spec.uuid)
    if caps.supports_suspend:
        await driver.suspend(spec.uuid)
        await driver.resume(spec.uuid)
    if caps.supports_snapshot:
        info = await driver.snapshot(spec.uuid, tmp_path / "snap")
        assert (tmp_path / "snap").stat().st_size > 0 and info.disk_format
    if caps.supports_console_output:
        assert isinstance(await driver.get_console_output(spec.uuid), str)
    assert (await driver.get_info(spec.uuid)).power_state == states.RUNNING
    await driver.destroy(spec.uuid)


async def test_failed_spawn_leaves_nothing(driver: drivers.Driver, tmp_path: Path) -> None:
    # The fake is told to fail; qemu gets an image whose qcow2 header names a host file.
    evil = tmp_path / "evil.qcow2"
    await disks.qemu_img("create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/passwd", str(evil))
    spec = _spec(metadata={"fake:fail_spawn": "true"}, image_path=str(evil))
    with pytest.raises(errors.OvercastError):
        await driver.spawn(spec)
    assert spec.uuid not in await driver.list_instances()
    assert not list((tmp_path / "compute").glob(f"**/{spec.uuid}*"))


async def test_guests_survive_a_restart(driver: drivers.Driver, tmp_path: Path) -> None:
    await driver.spawn(_spec())
    await driver.cleanup_host()
    again = drivers.load(driver.settings, Recorder(), driver.name)  # type: ignore[attr-defined]
    await again.init_host("host-a")
    assert _spec().uuid in await again.list_instances()
    assert (await again.get_info(_spec().uuid)).power_state == states.RUNNING
    await again.destroy(_spec().uuid)
    await again.cleanup_host()


async def test_volume_and_interface_hotplug(driver: drivers.Driver, tmp_path: Path) -> None:
    spec = _spec()
    await driver.spawn(spec)
    volume = tmp_path / "volume.qcow2"
    await disks.qemu_img("create", "-q", "-f", "qcow2", str(volume), "16M")
    connection = {
        "driver_volume_type": "local",
        "data": {"device_path": str(volume), "format": "qcow2", "volume_id": "v0123456789"},
    }
    await driver.attach_volume(spec.uuid, connection, "/dev/vdb")
    await driver.detach_volume(spec.uuid, connection)
    await driver.detach_volume(spec.uuid, connection)  # not attached: succeeds
    vif = {"port_id": "p0123456789abc", "mac": "fa:16:3e:00:00:01", "devname": "ovctest0"}
    await driver.attach_interface(spec.uuid, vif)
    await driver.attach_interface(spec.uuid, vif)  # attached already: succeeds
    await driver.detach_interface(spec.uuid, vif["port_id"])
    await driver.detach_interface(spec.uuid, vif["port_id"])
    assert (await driver.get_info(spec.uuid)).power_state == states.RUNNING
    await driver.destroy(spec.uuid)
    await driver.detach_volume(spec.uuid, connection)  # the guest is gone: succeeds


async def test_swap_volume_moves_the_data(driver: drivers.Driver, tmp_path: Path) -> None:
    """The new volume holds the old one's bytes; the guest keeps its device and can let the
    new volume go; the old one is free (qemu-img may open it for writing)."""
    spec = _spec()
    await driver.spawn(spec)
    old, new = tmp_path / "old.qcow2", tmp_path / "new.raw"
    await disks.qemu_img("create", "-q", "-f", "qcow2", str(old), "16M")
    await disks.qemu_img("create", "-q", "-f", "raw", str(new), "16M")
    await _qemu_io(old, "qcow2", "write -P 0x5c 1M 64k")
    before = {
        "driver_volume_type": "local",
        "data": {"device_path": str(old), "format": "qcow2", "volume_id": "v0123456789"},
    }
    after = {
        "driver_volume_type": "local",
        "data": {"device_path": str(new), "format": "raw", "volume_id": "w0123456789"},
    }
    await driver.attach_volume(spec.uuid, before, "/dev/vdb")
    await driver.swap_volume(spec.uuid, before, after, "/dev/vdb")
    assert "Pattern verification failed" not in await _qemu_io(new, "raw", "read -P 0x5c 1M 64k")
    await _qemu_io(old, "qcow2", "write -P 0x11 0 4k")  # nothing holds the old volume
    old.unlink()
    assert not _holders(old)  # not even an open descriptor: its blocks are free
    await driver.power_off(spec.uuid)
    with pytest.raises(errors.Conflict):  # a guest that does not run copies nothing
        await driver.swap_volume(spec.uuid, after, before, "/dev/vdb")
    await driver.detach_volume(spec.uuid, after)
    await driver.destroy(spec.uuid)


def _holders(path: Path) -> list[str]:
    """Open descriptors of any process on `path` (deleted or not)."""
    found = []
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target in (str(path), f"{path} (deleted)"):
            found.append(str(fd))
    return found


async def _qemu_io(path: Path, fmt: str, command: str) -> str:
    """Run one qemu-io command on the image (read-only when it reads: beside a running guest)."""
    shared = ["-r", "-U"] if command.startswith("read") else []
    args = ["qemu-io", *shared, "-f", fmt, "-c", command, str(path)]
    done = await asyncio.to_thread(subprocess.run, args, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_resize_on_one_host_and_revert(driver: drivers.Driver) -> None:
    spec = _spec()
    await driver.spawn(spec)
    await driver.migrate_disk_and_power_off(spec.uuid, "host-a")
    bigger = dataclasses.replace(spec, flavor={**spec.flavor, "memory_mb": 96, "root_gb": 2})
    await driver.finish_migration(bigger, power_on=True)
    assert (await driver.get_info(spec.uuid)).power_state == states.RUNNING
    await driver.finish_revert_migration(spec, power_on=True)
    assert (await driver.get_info(spec.uuid)).power_state == states.RUNNING
    await driver.migrate_disk_and_power_off(spec.uuid, "host-a")
    await driver.finish_migration(bigger, power_on=False)
    await driver.confirm_migration(spec.uuid)
    assert (await driver.get_info(spec.uuid)).power_state == states.SHUTDOWN
    await driver.destroy(spec.uuid)
