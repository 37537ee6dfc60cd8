"""Rebuilding a volume-backed server (the fake driver; the real guest's is in
tests/compute/qemu): its root volume re-imaged through the volume service from 2.93, refused
below unless the image is the one the volume holds. And the assisted volume snapshots API that
block storage drivers call, which no driver here can serve: the volume service hears so."""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Any

import pytest

from tests.compute.conftest import wait_for, wait_gone
from tests.helpers.server import Server
from tests.volume.conftest import name, qcow2_image, wait_volume


@pytest.fixture(scope="module")
def images(admin: Any) -> tuple[Any, Any]:
    return qcow2_image(admin, "0x61", "64k"), qcow2_image(admin, "0x62", "64k")


def _holds(server: Server, volume_id: str, pattern: str) -> bool:
    """Whether the volume's file (the `file` back end's) begins with 64 KiB of `pattern`."""
    found = list((server.data_dir / "volumes").rglob(f"volume-{volume_id}"))
    assert len(found) == 1, found
    out = subprocess.run(
        ["qemu-io", "-r", "-U", "-c", f"read -P {pattern} 0 64k", str(found[0])],
        capture_output=True,
        text=True,
    )
    return out.returncode == 0 and "Pattern verification failed" not in out.stdout


def _action(server: Server, admin: Any, server_id: str, body: dict[str, Any], mv: str) -> Any:
    return admin.compute.post(
        f"/servers/{server_id}/action",
        json=body,
        headers={"OpenStack-API-Version": f"compute {mv}"},
    )


def test_rebuild_volume_backed_server(server: Server, admin: Any, images: Any) -> None:
    first, second = images
    mapping = {"boot_index": 0, "uuid": first.id, "source_type": "image",
               "destination_type": "volume", "volume_size": 1, "delete_on_termination": True}  # fmt: skip
    vm = admin.compute.create_server(
        name=name("bfv"), flavor_id="1", networks="none", block_device_mapping=[mapping]
    )
    vm = wait_for(admin, vm.id, "ACTIVE")
    volume_id = vm.attached_volumes[0]["id"]
    assert _holds(server, volume_id, "0x61")

    # Below 2.93 only the image the volume holds (which rebuilds nothing on it).
    refused = _action(server, admin, vm.id, {"rebuild": {"imageRef": second.id}}, "2.92")
    assert refused.status_code == 400, refused.text
    assert "volume-backed" in refused.json()["badRequest"]["message"]
    same = _action(server, admin, vm.id, {"rebuild": {"imageRef": first.id}}, "2.92")
    assert same.status_code == 202, same.text
    wait_for(admin, vm.id, "ACTIVE")
    assert admin.block_storage.get_volume(volume_id).status == "in-use"

    body = {"rebuild": {"imageRef": second.id, "name": "rebuilt", "metadata": {"a": "b"},
                        "adminPass": "rebuildPassw0rd"}}  # fmt: skip
    answer = _action(server, admin, vm.id, body, "2.93")
    assert answer.status_code == 202, answer.text
    shown = answer.json()["server"]
    assert shown["image"] == "" and shown["name"] == "rebuilt"
    assert shown["adminPass"] == "rebuildPassw0rd"
    vm = wait_for(admin, vm.id, "ACTIVE", timeout=60)
    assert vm.name == "rebuilt" and [v["id"] for v in vm.attached_volumes] == [volume_id]
    volume = wait_volume(admin, volume_id, "in-use")
    assert volume.volume_image_metadata["image_id"] == second.id
    assert [a["server_id"] for a in volume.attachments] == [vm.id]
    assert _holds(server, volume_id, "0x62")
    actions = admin.compute.get(f"/servers/{vm.id}/os-instance-actions").json()
    assert actions["instanceActions"][0]["action"] == "rebuild"

    admin.compute.delete_server(vm.id)
    wait_gone(admin, vm.id)


def test_assisted_volume_snapshots(server: Server, admin: Any, images: Any) -> None:
    volume = admin.block_storage.create_volume(size=1, name=name("data"))
    wait_volume(admin, volume.id, "available")
    path = "/os-assisted-volume-snapshots"
    create_info = {"snapshot_id": str(uuid.uuid4()), "type": "qcow2", "new_file": "new_file"}
    # A volume attached to no server.
    answer = admin.compute.post(
        path, json={"snapshot": {"volume_id": volume.id, "create_info": create_info}}
    )
    assert answer.status_code == 400, answer.text
    for bad in (
        {"snapshot": {"volume_id": volume.id}},
        {"snapshot": {"volume_id": volume.id, "create_info": {**create_info, "type": "raw"}}},
        {"snapshot": {"volume_id": volume.id, "create_info": {**create_info, "x": 1}}},
    ):
        assert admin.compute.post(path, json=bad).status_code == 400

    vm = admin.compute.create_server(
        name=name("vm"), image_id=images[0].id, flavor_id="1", networks="none"
    )
    wait_for(admin, vm.id, "ACTIVE")
    admin.compute.create_volume_attachment(vm.id, volume_id=volume.id)
    wait_volume(admin, volume.id, "in-use")
    # A real snapshot of the volume, which the host is asked to make (as a Cinder NFS
    # driver would ask): the fake driver cannot, so the snapshot fails in the volume service.
    snap = admin.block_storage.create_snapshot(volume_id=volume.id, force=True, name=name("s"))
    snap = admin.block_storage.wait_for_status(snap, "available", "error", wait=30)
    admin.block_storage.post(
        f"/snapshots/{snap.id}/action", json={"os-reset_status": {"status": "creating"}}
    )
    info = {**create_info, "snapshot_id": snap.id, "id": snap.id}
    answer = admin.compute.post(path, json={"snapshot": {"volume_id": volume.id,
                                                         "create_info": info}})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"snapshot": {"id": snap.id, "volumeId": volume.id}}
    admin.block_storage.wait_for_status(snap, "error", wait=30)

    delete_info = json.dumps({"volume_id": volume.id, "type": "qcow2", "file_to_merge": "x"})
    answer = admin.compute.delete(f"{path}/{snap.id}?delete_info={delete_info}")
    assert answer.status_code == 204, answer.text
    assert admin.compute.delete(f"{path}/{snap.id}").status_code == 400
    assert admin.compute.delete(f"{path}/{snap.id}?delete_info=nojson").status_code == 400

    # A member of a project may not: it is for services and admins.
    member = server.connect("overcast-demo")
    denied = member.compute.post(
        path, json={"snapshot": {"volume_id": volume.id, "create_info": create_info}}
    )
    assert denied.status_code == 403

    admin.compute.delete_server(vm.id)
    wait_gone(admin, vm.id)
    admin.block_storage.delete_snapshot(snap.id)
    admin.block_storage.wait_for_delete(snap, wait=30)
    admin.block_storage.delete_volume(volume.id)
