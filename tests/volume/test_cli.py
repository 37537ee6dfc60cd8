"""The openstack CLI against a real `overcast up`, the issue's commands as a user types them."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.helpers.server import Server
from tests.volume.conftest import name, wait_gone, wait_status, wait_volume


def test_volume_lifecycle(server: Server, admin: Any) -> None:
    v1 = name("v1")
    created = server.cli_json("volume", "create", "--size", "1", v1)
    assert created["size"] == 1 and created["status"] in ("creating", "available")
    wait_volume(admin, created["id"], "available")
    assert any(v["Name"] == v1 for v in server.cli_json("volume", "list"))
    shown = server.cli_json("volume", "show", v1)
    assert shown["status"] == "available" and shown["type"] == "__DEFAULT__"
    assert shown["os-vol-host-attr:host"].endswith("#file")

    server.cli(
        "volume",
        "set",
        "--name",
        f"{v1}-x",
        "--description",
        "d",
        "--property",
        "a=b",
        "--size",
        "2",
        "--bootable",
        "--read-only",
        v1,
    )
    wait_volume(admin, created["id"], "available")
    shown = server.cli_json("volume", "show", f"{v1}-x")
    assert shown["size"] == 2 and shown["description"] == "d"
    assert shown["properties"] == {"a": "b", "readonly": "True"}
    assert shown["bootable"] in (True, "true")

    server.cli("volume", "delete", f"{v1}-x")
    wait_gone(admin, created["id"])


def test_snapshot_backup_restore(server: Server, admin: Any) -> None:
    v = name("vs")
    vid = server.cli_json("volume", "create", "--size", "1", v)["id"]
    wait_volume(admin, vid, "available")
    snap = server.cli_json("volume", "snapshot", "create", "--volume", v, name("s"))
    wait_status(admin.block_storage.get_snapshot, snap["id"], "available")
    # A volume with snapshots cannot be deleted (400, nothing changes).
    refused = server.cli("volume", "delete", v, check=False)
    assert refused.returncode != 0
    assert server.cli_json("volume", "show", v)["status"] == "available"

    backup = server.cli_json("volume", "backup", "create", "--name", name("b"), v)
    wait_status(admin.block_storage.get_backup, backup["id"], "available")
    incremental = server.cli_json(
        "volume", "backup", "create", "--incremental", "--name", name("bi"), v
    )
    inc = wait_status(admin.block_storage.get_backup, incremental["id"], "available")
    assert inc.is_incremental
    restored = server.cli_json("volume", "backup", "restore", backup["id"], name("r"))
    wait_volume(admin, restored["volume_id"], "available")
    server.cli("volume", "backup", "restore", "--force", incremental["id"], v)
    wait_volume(admin, vid, "available")

    from_snap = server.cli_json("volume", "create", "--snapshot", snap["id"], name("fs"))
    wait_volume(admin, from_snap["id"], "available")
    for vol in (from_snap["id"], restored["volume_id"]):
        server.cli("volume", "delete", vol)
    server.cli("volume", "backup", "delete", incremental["id"])
    wait_status(lambda i: _gone_backup(admin, i), incremental["id"], "gone")
    server.cli("volume", "backup", "delete", backup["id"])
    server.cli("volume", "snapshot", "delete", snap["id"])
    wait_status(lambda i: _gone_snapshot(admin, i), snap["id"], "gone")
    server.cli("volume", "delete", v)
    wait_gone(admin, vid)


class _Gone:
    status = "gone"


def _gone_backup(conn: Any, backup_id: str) -> Any:
    found = conn.block_storage.find_backup(backup_id, ignore_missing=True)
    return _Gone() if found is None else found


def _gone_snapshot(conn: Any, snapshot_id: str) -> Any:
    found = conn.block_storage.find_snapshot(snapshot_id, ignore_missing=True)
    return _Gone() if found is None else found


def test_volume_from_image_and_back(
    server: Server, admin: Any, volume_image: Any, tmp_path: Path
) -> None:
    v = name("vimg")
    created = server.cli_json(
        "volume", "create", "--image", volume_image.name, "--bootable", "--size", "1", v
    )
    volume = wait_volume(admin, created["id"], "available")
    assert volume.is_bootable
    assert volume.volume_image_metadata["image_id"] == volume_image.id

    # qcow2 carries only the written clusters (a raw upload would send the whole GiB).
    image = server.cli_json(
        "image", "create", "--volume", v, "--disk-format", "qcow2", name("fromvol")
    )
    image_id = image["image_id"]
    admin.image.wait_for_status(admin.image.get_image(image_id), "active", interval=0.1, wait=180)
    wait_volume(admin, created["id"], "available")
    out = tmp_path / "out.qcow2"
    server.cli("image", "save", "--file", str(out), image_id)
    check = subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", "read -P 0x6f 0 4k", str(out)],
        capture_output=True,
        text=True,
    )
    assert "read 4096/4096" in check.stdout, check.stdout + check.stderr
    admin.image.delete_image(image_id)
    server.cli("volume", "delete", v)


def test_transfer_between_projects_sdk(server: Server, admin: Any, tenant_factory: Any) -> None:
    giver, taker = tenant_factory(), tenant_factory()
    volume = giver.conn.block_storage.create_volume(size=1, name=name("t"))
    wait_volume(giver.conn, volume.id, "available")
    transfer = giver.conn.block_storage.create_transfer(volume_id=volume.id, name="gift")
    assert transfer.auth_key
    assert giver.conn.block_storage.get_volume(volume.id).status == "awaiting-transfer"
    # A wrong key moves nothing.
    import openstack.exceptions as osexc
    import pytest

    with pytest.raises(osexc.BadRequestException):
        taker.conn.block_storage.accept_transfer(transfer.id, "0" * 16)
    taker.conn.block_storage.accept_transfer(transfer.id, transfer.auth_key)
    moved = taker.conn.block_storage.get_volume(volume.id)
    assert moved.status == "available"
    assert giver.conn.block_storage.find_volume(volume.id, ignore_missing=True) is None
    taker.conn.block_storage.delete_volume(volume.id)


def test_transfer_between_projects_cli(server: Server, tenant_factory: Any, demo: Any) -> None:
    """`volume transfer request create` in demo's project, `accept` in another's with the key."""
    other = tenant_factory()
    as_other = (
        "--os-username",
        other.user_name,
        "--os-password",
        other.password,
        "--os-project-name",
        other.project_name,
    )
    v = name("vt")
    vid = server.cli_json("volume", "create", "--size", "1", v, cloud="overcast-demo")["id"]
    wait_volume(demo, vid, "available")
    request = server.cli_json(
        "volume", "transfer", "request", "create", "--name", name("t"), v, cloud="overcast-demo"
    )
    assert request["volume_id"] == vid and request["auth_key"]
    assert server.cli_json("volume", "show", vid, cloud="overcast-demo")["status"] == (
        "awaiting-transfer"
    )
    listed = server.cli_json("volume", "transfer", "request", "list", cloud="overcast-demo")
    assert request["id"] in [t["ID"] for t in listed]
    # The other project does not see the volume, and a wrong key moves nothing.
    assert server.cli(*as_other, "volume", "show", vid, check=False).returncode != 0
    wrong = server.cli(
        *as_other,
        "volume",
        "transfer",
        "request",
        "accept",
        "--auth-key",
        "0" * 16,
        request["id"],
        check=False,
    )
    assert wrong.returncode != 0
    assert server.cli_json("volume", "show", vid, cloud="overcast-demo")["status"] == (
        "awaiting-transfer"
    )
    accepted = server.cli_json(
        *as_other,
        "volume",
        "transfer",
        "request",
        "accept",
        "--auth-key",
        request["auth_key"],
        request["id"],
    )
    assert accepted["volume_id"] == vid
    moved = server.cli_json(*as_other, "volume", "show", vid)
    assert moved["status"] == "available" and moved["name"] == v
    # Gone from demo's project; the accepted request is gone too.
    assert server.cli("volume", "show", vid, cloud="overcast-demo", check=False).returncode != 0
    assert request["id"] not in [
        t["ID"]
        for t in server.cli_json("volume", "transfer", "request", "list", cloud="overcast-demo")
    ]
    server.cli(*as_other, "volume", "delete", vid)
