"""Fixtures and waiting helpers for the block storage tests."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest

from tests.helpers.server import Server


def wait_volume(
    conn: openstack.connection.Connection, volume_id: str, *statuses: str, timeout: float = 30.0
) -> Any:
    """Poll (every 50 ms) until the volume shows one of `statuses`."""
    deadline = time.monotonic() + timeout
    volume = None
    while time.monotonic() < deadline:
        volume = conn.block_storage.get_volume(volume_id)
        if volume.status in statuses:
            return volume
        time.sleep(0.05)
    raise AssertionError(f"volume {volume_id} stuck in {volume and volume.status}")


def wait_status(get: Any, resource_id: str, *statuses: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    found = None
    while time.monotonic() < deadline:
        found = get(resource_id)
        if found.status in statuses:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{resource_id} stuck in {found and found.status}")


def wait_gone(conn: openstack.connection.Connection, volume_id: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if conn.block_storage.find_volume(volume_id, ignore_missing=True) is None:
            return
        time.sleep(0.05)
    raise AssertionError(f"volume {volume_id} was not deleted")


def name(prefix: str = "v") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def qcow2_image(conn: openstack.connection.Connection, pattern: str, length: str = "4k") -> Any:
    """A public 32 MiB qcow2 image whose first `length` bytes are `pattern`."""
    import subprocess
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "disk.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "32M"], check=True)
        subprocess.run(
            ["qemu-io", "-f", "qcow2", "-c", f"write -P {pattern} 0 {length}", str(path)],
            check=True,
            capture_output=True,
        )
        return conn.image.create_image(
            name=name("volimg"),
            data=path.read_bytes(),
            disk_format="qcow2",
            container_format="bare",
            visibility="public",
            allow_duplicates=True,
        )


@pytest.fixture(scope="session")
def volume_image(admin: openstack.connection.Connection) -> Any:
    """A small public qcow2 image with known bytes at offset 0 (b"overcast")."""
    return qcow2_image(admin, "0x6f")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A cloud of its own with two `file` back ends: `fast` (qcow2) and `slow` (raw), their
    directories under `srv.tiers`."""
    from tests.helpers import databases

    root = tmp_path_factory.mktemp("tiers")
    backends = {
        "fast": {"volume_backend_name": "fast", "path": str(root / "fast")},
        "slow": {"volume_backend_name": "slow", "path": str(root / "slow"), "volume_format": "raw"},
    }
    with databases.selected() as db_env:
        srv = Server(
            root / "data", env={**db_env, "OVERCAST_VOLUME__BACKENDS": json.dumps(backends)}
        )
        srv.start()
        srv.tiers = root  # type: ignore[attr-defined]
        yield srv
        srv.stop()


def write(path: Path, fmt: str, pattern: str) -> None:
    """What a guest writes: 64 KiB of `pattern` at 1 MiB into the volume's file."""
    subprocess.run(
        ["qemu-io", "-f", fmt, "-c", f"write -P {pattern} 1M 64k", str(path)],
        check=True,
        capture_output=True,
    )


def holds(path: Path, fmt: str, pattern: str) -> bool:
    found = subprocess.run(
        ["qemu-io", "-r", "-U", "-f", fmt, "-c", f"read -P {pattern} 1M 64k", str(path)],
        capture_output=True,
        text=True,
    )
    return found.returncode == 0 and "Pattern verification failed" not in found.stdout


def wait_migrated(conn: Any, volume_id: str, timeout: float = 60.0) -> Any:
    """The volume once its migration ended (`success` or `error`) and it left `retyping`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = conn.block_storage.get_volume(volume_id)
        if found.migration_status in ("success", "error") and found.status != "retyping":
            return found
        time.sleep(0.1)
    raise AssertionError(f"volume {volume_id} still migrating")
