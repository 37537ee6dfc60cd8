"""Fixtures and waiting helpers for the block storage tests."""

from __future__ import annotations

import time
import uuid
from typing import Any

import openstack
import pytest


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


@pytest.fixture(scope="session")
def volume_image(admin: openstack.connection.Connection) -> Any:
    """A small public qcow2 image with known bytes at offset 0 (b"overcast")."""
    import subprocess
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "disk.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "32M"], check=True)
        subprocess.run(
            ["qemu-io", "-f", "qcow2", "-c", "write -P 0x6f 0 4k", str(path)],
            check=True,
            capture_output=True,
        )
        return admin.image.create_image(
            name=name("volimg"),
            data=path.read_bytes(),
            disk_format="qcow2",
            container_format="bare",
            visibility="public",
            allow_duplicates=True,
        )
