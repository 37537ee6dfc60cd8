"""Manage and unmanage: a qcow2 file put into a back end's directory becomes a volume with its
data and size; unmanaging forgets the volume and keeps the file."""

from __future__ import annotations

import subprocess
from typing import Any

from tests.helpers.server import Server
from tests.volume.conftest import name, wait_gone, wait_volume


def test_manage_then_unmanage(server: Server, admin: Any) -> None:
    pool = admin.block_storage.backend_pools()
    host = next(iter(pool)).name
    source = f"adopt-{name('f')}"
    path = server.data_dir / "volumes" / host.split("#")[1] / source
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "2G"], check=True)
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", "write -P 0x4d 0 4k", str(path)],
        check=True,
        capture_output=True,
    )
    listed = admin.block_storage.get(f"/manageable_volumes?host={host}", microversion="3.8").json()[
        "manageable-volumes"
    ]
    assert {"reference": {"source-name": source}, "size": 2, "safe_to_manage": True} in listed
    volume = admin.block_storage.manage_volume(
        host=host, ref={"source-name": source}, name=name("managed")
    )
    managed = wait_volume(admin, volume.id, "available")
    assert managed.size == 2 and not path.exists()
    admin.block_storage.unmanage_volume(managed)
    wait_gone(admin, volume.id)
    kept = path.with_name(f"unmanaged-volume-{volume.id}")
    assert kept.exists()
    check = subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", "read -P 0x4d 0 4k", str(kept)],
        capture_output=True,
        text=True,
    )
    assert "read 4096/4096" in check.stdout
    kept.unlink()
