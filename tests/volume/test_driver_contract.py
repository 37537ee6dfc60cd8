"""The volume driver conformance suite: what every driver must do, run over every driver (the
`file` driver with qcow2 and with raw files). A new driver joins by adding itself to DRIVERS."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from overcast.common import errors
from overcast.common.config import VolumeBackendSettings
from overcast.volume import drivers
from overcast.volume.drivers import GiB, SnapshotRef, VolumeRef

DRIVERS = {
    "file-qcow2": {"driver": "file", "volume_format": "qcow2"},
    "file-raw": {"driver": "file", "volume_format": "raw"},
}
# Whether the driver itself grows a volume that a hypervisor holds open (False: the holder
# must, as QEMU grows a qcow2 image it has open).
GROWS_HELD = {"file-qcow2": False, "file-raw": True}


class Callbacks:
    def __init__(self, root: Path) -> None:
        self.root = root

    def node(self) -> str:
        return "node1"

    def state_dir(self) -> Path:
        return self.root / "state"

    def export_address(self) -> str:
        return "127.0.0.1"


@pytest.fixture(params=sorted(DRIVERS))
async def driver(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    settings = VolumeBackendSettings(**DRIVERS[request.param], path=tmp_path / "pool")
    found = drivers.load("pool1", settings, Callbacks(tmp_path))
    found.test_id = request.param
    await found.setup()
    yield found
    await found.close()


async def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, args, check=check, capture_output=True, text=True
    )


async def size_of(path: Any) -> int:
    return await asyncio.to_thread(os.path.getsize, path)


def vol(size: int = 1) -> VolumeRef:
    return VolumeRef(id=str(uuid.uuid4()), size=size)


async def write_pattern(driver: Any, volume: VolumeRef, offset: int, data: bytes) -> None:
    async with driver.open_raw(volume, write=False) as raw:
        pass  # reading must work on a fresh volume
    async with driver.open_raw(volume, write=True) as raw:

        def put() -> None:
            with open(raw, "r+b") as handle:
                handle.seek(offset)
                handle.write(data)

        await asyncio.to_thread(put)


async def read_at(driver: Any, volume: VolumeRef, offset: int, length: int) -> bytes:
    async with driver.open_raw(volume) as raw:

        def get() -> bytes:
            with open(raw, "rb") as handle:
                handle.seek(offset)
                return handle.read(length)

        return await asyncio.to_thread(get)


async def test_create_is_thin_and_sized(driver: Any) -> None:
    volume = vol(2)
    location = await driver.create_volume(volume)
    assert location
    async with driver.open_raw(volume) as raw:
        assert await size_of(raw) == 2 * GiB
    pools = await driver.get_stats()
    assert pools[0].provisioned_capacity_gb >= 2
    assert pools[0].total_capacity_gb > 0
    assert pools[0].thin_provisioning_support
    # Thin: creating 2 GiB used (almost) nothing on disk.
    assert os.stat(location).st_blocks * 512 < 16 << 20


async def test_data_survives_snapshot_clone_and_extend(driver: Any) -> None:
    volume = vol(1)
    await driver.create_volume(volume)
    await write_pattern(driver, volume, 4096, b"overcast-data")
    snap = SnapshotRef(id=str(uuid.uuid4()), volume_id=volume.id, volume_size=1)
    await driver.create_snapshot(snap, volume)
    await driver.create_snapshot(snap, volume)  # idempotent
    await write_pattern(driver, volume, 4096, b"changed-later")

    from_snap = vol(2)
    await driver.create_volume_from_snapshot(from_snap, snap)
    assert await read_at(driver, from_snap, 4096, 13) == b"overcast-data"
    async with driver.open_raw(from_snap) as raw:
        assert await size_of(raw) == 2 * GiB

    clone = vol(1)
    await driver.create_cloned_volume(clone, volume)
    assert await read_at(driver, clone, 4096, 13) == b"changed-later"
    await driver.revert_to_snapshot(clone, snap)
    assert await read_at(driver, clone, 4096, 13) == b"overcast-data"

    assert await driver.extend_volume(volume, 3) is True
    assert await driver.extend_volume(VolumeRef(volume.id, 3), 3) is True  # idempotent
    async with driver.open_raw(VolumeRef(volume.id, 3)) as raw:
        assert await size_of(raw) == 3 * GiB
    assert await read_at(driver, VolumeRef(volume.id, 3), 4096, 13) == b"changed-later"


async def test_delete_is_idempotent(driver: Any) -> None:
    volume = vol()
    await driver.create_volume(volume)
    await driver.delete_volume(volume)
    await driver.delete_volume(volume)
    await driver.delete_snapshot(SnapshotRef(str(uuid.uuid4()), volume.id, 1))
    with pytest.raises(errors.NotFound):
        await driver.create_cloned_volume(vol(), volume)


async def test_image_round_trip(driver: Any, tmp_path: Path) -> None:
    image = tmp_path / "image.qcow2"
    await sh("qemu-img", "create", "-q", "-f", "qcow2", str(image), "64M")
    await sh("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 1M 64k", str(image))
    volume = vol(1)
    await driver.create_volume(volume)
    await driver.copy_image_to_volume(volume, image, "qcow2")
    assert await read_at(driver, volume, 1 << 20, 4) == b"\x5a" * 4
    out = tmp_path / "out.raw"
    await driver.copy_volume_to_image(volume, out, "raw")
    assert (await sh("qemu-io", "-f", "raw", "-c", "read -P 0x5a 1M 4", str(out))).returncode == 0
    big = tmp_path / "big.qcow2"
    await sh("qemu-img", "create", "-q", "-f", "qcow2", str(big), "2G")
    with pytest.raises(errors.BadRequest):
        await driver.copy_image_to_volume(volume, big, "qcow2")


async def test_local_and_nbd_connections(driver: Any) -> None:
    volume = vol(1)
    await driver.create_volume(volume)
    await write_pattern(driver, volume, 0, b"boot")
    local = await driver.initialize_connection(volume, {"host": "node1"})
    assert local["driver_volume_type"] == "local"
    assert await size_of(local["data"]["device_path"]) > 0

    remote = {"host": "node2", "initiator": "overcast:node2"}
    conn = await driver.initialize_connection(volume, remote)
    again = await driver.initialize_connection(volume, remote)
    assert conn == again and conn["driver_volume_type"] == "nbd"
    data = conn["data"]
    url = f"nbd://{data['host']}:{data['port']}/{data['name']}"
    # Another node reads and writes the volume through the export, as QEMU would.
    out = await sh(
        "qemu-io", "-f", "raw", "-c", "read -P 0x62 0 1", "-c", "write -P 0x41 8192 512", url
    )
    assert "read 1/1 bytes" in out.stdout
    await driver.terminate_connection(volume, remote)
    assert await read_at(driver, volume, 8192, 2) == b"AA"
    probe = await sh("qemu-img", "info", url, check=False)
    assert probe.returncode != 0  # the export is gone with its last connector


async def test_extend_of_a_volume_held_open(driver: Any, tmp_path: Path) -> None:
    """Held by its own NBD export, a volume grows through it. Held by another QEMU (a guest's
    on this node: its image lock says so), it grows at once or the driver says its holder
    must grow it, and then nothing changed."""
    volume = vol(1)
    await driver.create_volume(volume)
    await write_pattern(driver, volume, 4096, b"kept")
    remote = {"host": "node2", "initiator": "overcast:node2"}
    data = (await driver.initialize_connection(volume, remote))["data"]
    url = f"nbd://{data['host']}:{data['port']}/{data['name']}"
    reader = await asyncio.create_subprocess_exec(
        "qemu-io", "-r", "-f", "raw", url, stdin=PIPE, stdout=PIPE
    )  # fmt: skip
    try:  # a client is connected: its size cannot change under it
        assert reader.stdout is not None and await reader.stdout.read(8) == b"qemu-io>"
        assert await driver.extend_volume(volume, 2) is False
    finally:
        await reader.communicate(b"quit\n")
    assert (await sh("qemu-img", "info", url)).returncode == 0  # exported still
    assert await driver.extend_volume(volume, 2) is True
    await driver.terminate_connection(volume, remote)
    async with driver.open_raw(VolumeRef(volume.id, 2)) as raw:
        assert await size_of(raw) == 2 * GiB

    local = await driver.initialize_connection(volume, {"host": "node1"})
    data = local["data"]
    holder = await asyncio.create_subprocess_exec(
        "qemu-storage-daemon", "--blockdev",
        f"driver=file,node-name=f,filename={data['device_path']}",
        "--blockdev", f"driver={data['format']},node-name=d,file=f",
        "--chardev", "stdio,id=m", "--monitor", "chardev=m", stdin=PIPE, stdout=PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and b"QMP" in await holder.stdout.readline()
        grown = await driver.extend_volume(VolumeRef(volume.id, 2), 3)
    finally:
        holder.terminate()
        await holder.wait()
    assert grown is GROWS_HELD[driver.test_id]
    async with driver.open_raw(VolumeRef(volume.id, 3)) as raw:
        assert await size_of(raw) == (3 if grown else 2) * GiB
    assert await read_at(driver, volume, 4096, 4) == b"kept"
    assert await driver.extend_volume(VolumeRef(volume.id, 2), 3) is True  # let go: it grows


async def test_stats_describe_the_pool(driver: Any) -> None:
    (pool,) = await driver.get_stats()
    assert pool.pool_name == "pool1"
    assert 0 <= pool.free_capacity_gb <= pool.total_capacity_gb
    assert pool.max_over_subscription_ratio > 0
