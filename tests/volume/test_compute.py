"""Volumes and servers together, through the openstack CLI and openstacksdk: boot from a
volume, attach and detach, what server delete does to volumes, snapshots of volume-backed
servers and servers booted from them."""

from __future__ import annotations

import json
import time
from typing import Any

import openstack.exceptions as osexc
import pytest

from tests.compute.conftest import wait_for, wait_gone
from tests.helpers.server import Server
from tests.volume.conftest import name, wait_volume


def test_boot_from_volume_and_attach(server: Server, admin: Any, volume_image: Any) -> None:
    boot = admin.block_storage.create_volume(size=1, image_id=volume_image.id, name=name("boot"))
    wait_volume(admin, boot.id, "available")
    data = admin.block_storage.create_volume(size=1, name=name("data"))
    wait_volume(admin, data.id, "available")

    vm = server.cli_json(
        "server",
        "create",
        "--volume",
        boot.name,
        "--flavor",
        "m1.tiny",
        "--nic",
        "none",
        "--wait",
        name("bfv"),
    )
    assert vm["status"] == "ACTIVE"
    assert wait_volume(admin, boot.id, "in-use").attachments[0]["server_id"] == vm["id"]

    server.cli("server", "add", "volume", vm["id"], data.name)
    attached = wait_volume(admin, data.id, "in-use")
    assert attached.attachments[0]["device"] == "/dev/vdb"
    shown = server.cli_json("server", "show", vm["id"])
    assert {v["id"] for v in shown["volumes_attached"]} == {boot.id, data.id}
    # A volume that is not multiattach cannot be attached twice.
    other = admin.compute.create_server(
        name=name("other"), image_id=volume_image.id, flavor_id="1", networks="none"
    )
    wait_for(admin, other.id, "ACTIVE")
    with pytest.raises(osexc.BadRequestException):
        admin.compute.create_volume_attachment(other.id, volume_id=data.id)
    assert admin.block_storage.get_volume(data.id).attachments[0]["server_id"] == vm["id"]
    # An attached volume cannot be deleted.
    with pytest.raises(osexc.BadRequestException):
        admin.block_storage.delete_volume(data.id)

    server.cli("server", "remove", "volume", vm["id"], data.name)
    wait_volume(admin, data.id, "available")
    admin.compute.delete_server(vm["id"])
    admin.compute.delete_server(other.id)
    wait_gone(admin, vm["id"])
    wait_gone(admin, other.id)
    # Booted from an existing volume without delete_on_termination: the volume stays.
    wait_volume(admin, boot.id, "available")
    admin.block_storage.delete_volume(boot.id)
    admin.block_storage.delete_volume(data.id)


def _boot_from_new_volume(admin: Any, image: Any, prefix: str) -> tuple[Any, str]:
    """An ACTIVE server booted from a new 1 GiB volume made from `image`, which its mapping
    deletes with it; the server and the volume's id."""
    mapping = {"boot_index": 0, "uuid": image.id, "source_type": "image",
               "destination_type": "volume", "volume_size": 1, "delete_on_termination": True}  # fmt: skip
    vm = admin.compute.create_server(
        name=name(prefix), flavor_id="1", networks="none", block_device_mapping=[mapping]
    )
    vm = wait_for(admin, vm.id, "ACTIVE")
    return vm, vm.attached_volumes[0]["id"]


def test_boot_from_image_to_new_volume_deleted_with_server(admin: Any, volume_image: Any) -> None:
    vm, volume_id = _boot_from_new_volume(admin, volume_image, "bfv2")
    volume = admin.block_storage.get_volume(volume_id)
    assert volume.status == "in-use" and volume.is_bootable
    admin.compute.delete_server(vm.id)
    wait_gone(admin, vm.id)
    from tests.volume.conftest import wait_gone as volume_gone

    volume_gone(admin, volume_id)


def test_server_delete_keeps_a_volume_with_snapshots(admin: Any, volume_image: Any) -> None:
    """A delete_on_termination volume that the volume service will not delete (it has a
    snapshot, made by createImage) is left behind; the server is deleted all the same."""
    vm, volume_id = _boot_from_new_volume(admin, volume_image, "bfv3")
    image_id = admin.compute.create_server_image(vm.id, name("bfv3i"), wait=True).id
    admin.compute.delete_server(vm.id)
    wait_gone(admin, vm.id)
    wait_volume(admin, volume_id, "available")
    (snap,) = admin.block_storage.snapshots(volume_id=volume_id)
    admin.image.delete_image(image_id)
    admin.block_storage.wait_for_status(snap, "available", interval=0.1)
    admin.block_storage.delete_snapshot(snap.id)
    admin.block_storage.wait_for_delete(snap, interval=0.1)
    admin.block_storage.delete_volume(volume_id)


def test_snapshot_of_volume_backed_server(server: Server, admin: Any, volume_image: Any) -> None:
    """`server image create` of a server booted from a volume snapshots the volume (in use,
    so forced) and makes a data-less image whose block_device_mapping names the snapshot."""
    import json

    boot = admin.block_storage.create_volume(size=1, image_id=volume_image.id, name=name("vb"))
    wait_volume(admin, boot.id, "available")
    vm = server.cli_json(
        "server",
        "create",
        "--volume",
        boot.name,
        "--flavor",
        "m1.tiny",
        "--nic",
        "none",
        "--wait",
        name("vbs"),
    )
    image = server.cli_json("server", "image", "create", "--name", name("vbi"), vm["id"])
    found = admin.image.get_image(image["id"])
    # Active without data, as Nova leaves it: its data is in the snapshots it maps.
    assert found.status == "active" and found.size == 0
    props = found.properties or {}
    assert props.get("bdm_v2") in ("True", True) and props.get("root_device_name") == "/dev/vda"
    (mapping,) = json.loads(props["block_device_mapping"])
    assert mapping["source_type"] == "snapshot" and mapping["boot_index"] == 0
    assert mapping["volume_size"] == 1 and found.min_disk == 1
    snap = admin.block_storage.get_snapshot(mapping["snapshot_id"])
    assert snap.volume_id == boot.id
    admin.block_storage.wait_for_status(snap, "available", interval=0.1)
    assert found.status == "active" and not found.size  # no data: its mapping is the disk
    # The guest's data is in the snapshot: a volume made from it boots the same image bytes.
    copy = admin.block_storage.create_volume(snapshot_id=snap.id, name=name("vbc"))
    copy = wait_volume(admin, copy.id, "available")
    assert copy.is_bootable and copy.volume_image_metadata["image_id"] == volume_image.id

    # A server booted from the image boots from a new volume made from the snapshot.
    again = server.cli_json(
        "server", "create", "--image", found.id, "--flavor", "m1.tiny", "--nic", "none",
        "--wait", name("vbb"),
    )  # fmt: skip
    assert again["status"] == "ACTIVE"
    (attached,) = server.cli_json("server", "show", again["id"])["volumes_attached"]
    made = admin.block_storage.get_volume(attached["id"])
    assert made.id not in (boot.id, copy.id) and made.snapshot_id == snap.id
    assert made.status == "in-use" and made.is_bootable and made.size == 1
    assert made.attachments[0]["device"] == "/dev/vda"
    # The mapping said the volume outlives the server (as the first server's did).
    admin.compute.delete_server(again["id"])
    wait_gone(admin, again["id"])
    wait_volume(admin, made.id, "available")
    admin.block_storage.delete_volume(made.id)
    admin.block_storage.wait_for_delete(made, interval=0.1)

    admin.compute.delete_server(vm["id"])
    wait_gone(admin, vm["id"])
    admin.image.delete_image(found.id)
    admin.block_storage.delete_volume(copy.id)
    admin.block_storage.wait_for_delete(copy, interval=0.1)
    admin.block_storage.delete_snapshot(snap.id)
    admin.block_storage.wait_for_delete(snap, interval=0.1)
    wait_volume(admin, boot.id, "available")
    admin.block_storage.delete_volume(boot.id)


def test_boot_from_an_image_mapping_an_unknown_snapshot(admin: Any, volume_image: Any) -> None:
    """An image whose mapping names a snapshot the caller cannot get: 400, nothing made."""
    import json
    import uuid

    mapping = [{"source_type": "snapshot", "destination_type": "volume", "boot_index": 0,
                "snapshot_id": str(uuid.uuid4()), "volume_size": 1}]  # fmt: skip
    image = admin.image.create_image(
        name=name("bad"),
        data=b"\0" * 512,
        disk_format="raw",
        container_format="bare",
        allow_duplicates=True,
        bdm_v2="True",
        block_device_mapping=json.dumps(mapping),
    )
    before = {v.id for v in admin.block_storage.volumes()}
    with pytest.raises(osexc.BadRequestException, match="snapshot"):
        admin.compute.create_server(
            name=name("nb"), image_id=image.id, flavor_id="1", networks="none"
        )
    assert {v.id for v in admin.block_storage.volumes()} == before
    admin.image.delete_image(image.id)


def test_volumes_of_a_shelved_offloaded_server(admin: Any, volume_image: Any) -> None:
    """2.20: volumes attach to and detach from a shelved-offloaded server (reserved and in use
    with no host or device); unshelving connects those still attached on its new host."""
    from tests.compute import nova_http

    vm = admin.compute.create_server(
        name=name("shelf"), image_id=volume_image.id, flavor_id="1", networks="none"
    )
    wait_for(admin, vm.id, "ACTIVE")
    kept = admin.block_storage.create_volume(size=1, name=name("kept"))
    dropped = admin.block_storage.create_volume(size=1, name=name("dropped"))
    for volume in (kept, dropped):
        wait_volume(admin, volume.id, "available")
    admin.compute.shelve_server(vm)
    wait_for(admin, vm.id, "SHELVED_OFFLOADED")
    body = {"volumeAttachment": {"volumeId": kept.id}}
    path = f"/servers/{vm.id}/os-volume_attachments"
    old = nova_http.call(admin, "POST", path, "2.19", body)
    nova_http.fault(old, 409, "shelved_offloaded")
    assert wait_volume(admin, kept.id, "available")
    made = nova_http.call(admin, "POST", path, "2.20", body)
    assert made.status_code == 200, made.text
    assert made.json()["volumeAttachment"]["device"] is None
    assert wait_volume(admin, kept.id, "in-use").attachments[0]["server_id"] == vm.id
    admin.compute.create_volume_attachment(vm.id, volume_id=dropped.id)
    wait_volume(admin, dropped.id, "in-use")
    admin.compute.delete_volume_attachment(vm.id, dropped.id)
    wait_volume(admin, dropped.id, "available")
    missing = nova_http.call(admin, "DELETE", f"{path}/{dropped.id}", "2.20")
    nova_http.fault(missing, 404)

    admin.compute.unshelve_server(vm)
    wait_for(admin, vm.id, "ACTIVE")
    (attached,) = admin.compute.volume_attachments(vm.id)
    assert attached.volume_id == kept.id and attached.device == "/dev/vdb"
    assert wait_volume(admin, kept.id, "in-use").attachments[0]["device"] == "/dev/vdb"
    admin.compute.delete_volume_attachment(vm.id, kept.id)
    wait_volume(admin, kept.id, "available")
    admin.compute.delete_server(vm.id)
    wait_gone(admin, vm.id)
    admin.block_storage.delete_volume(kept.id)
    admin.block_storage.delete_volume(dropped.id)


def test_boot_from_volume_cli_and_bdm_sources(
    server: Server, admin: Any, volume_image: Any
) -> None:
    """`--boot-from-volume SIZE`, and a mapping of an image root, a blank disk and a disk
    from a snapshot, each a new volume on its own device, deleted with the server."""
    vm = server.cli_json(
        "server", "create", "--image", volume_image.id, "--boot-from-volume", "1",
        "--flavor", "m1.tiny", "--nic", "none", "--wait", name("bfvc"),
    )  # fmt: skip
    (root,) = server.cli_json("server", "show", vm["id"])["volumes_attached"]
    made = admin.block_storage.get_volume(root["id"])
    assert made.size == 1 and made.is_bootable and made.status == "in-use"
    assert made.volume_image_metadata["image_id"] == volume_image.id
    server.cli("server", "delete", "--wait", vm["id"])
    wait_volume(admin, made.id, "available")  # the CLI does not ask for delete_on_termination
    admin.block_storage.delete_volume(made.id)

    source = admin.block_storage.create_volume(size=1, name=name("src"))
    wait_volume(admin, source.id, "available")
    snap = admin.block_storage.create_snapshot(volume_id=source.id, name=name("ss"))
    admin.block_storage.wait_for_status(snap, "available", interval=0.1)
    mapping = [
        {"boot_index": 0, "uuid": volume_image.id, "source_type": "image",
         "destination_type": "volume", "volume_size": 1, "delete_on_termination": True},
        {"boot_index": -1, "source_type": "blank", "destination_type": "volume",
         "volume_size": 1, "delete_on_termination": True},
        {"boot_index": -1, "uuid": snap.id, "source_type": "snapshot",
         "destination_type": "volume", "volume_size": 2, "delete_on_termination": True},
    ]  # fmt: skip
    vm2 = admin.compute.create_server(
        name=name("bdm"), flavor_id="1", networks="none", block_device_mapping=mapping
    )
    wait_for(admin, vm2.id, "ACTIVE")
    found = {a.device: a.volume_id for a in admin.compute.volume_attachments(vm2.id)}
    assert set(found) == {"/dev/vda", "/dev/vdb", "/dev/vdc"}
    volumes = {d: admin.block_storage.get_volume(v) for d, v in found.items()}
    assert volumes["/dev/vda"].is_bootable and not volumes["/dev/vdb"].is_bootable
    assert volumes["/dev/vdc"].snapshot_id == snap.id and volumes["/dev/vdc"].size == 2
    assert {v.status for v in volumes.values()} == {"in-use"}
    admin.compute.delete_server(vm2.id)
    wait_gone(admin, vm2.id)
    from tests.volume.conftest import wait_gone as volume_gone

    for volume in volumes.values():
        volume_gone(admin, volume.id)
    admin.block_storage.delete_snapshot(snap)
    admin.block_storage.wait_for_delete(snap, interval=0.1)
    admin.block_storage.delete_volume(source.id)


def test_extend_an_attached_volume(server: Server, admin: Any, volume_image: Any) -> None:
    """From 3.42 an attached volume grows (`volume set --size`): the back end grows the file
    and compute's fake driver records the size the `volume-extended` event brought. Before
    3.42, to a size not larger, over quota or in a status that forbids it: Cinder's 400 or
    413, and nothing changed."""
    from tests.helpers.isolation import make_tenant

    tenant = make_tenant(server, admin)
    conn = tenant.conn
    vm = conn.compute.create_server(
        name=name("ext"), image_id=volume_image.id, flavor_id="1", networks="none"
    )
    wait_for(conn, vm.id, "ACTIVE")
    volume = conn.block_storage.create_volume(size=1, name=name("grow"))
    other = conn.block_storage.create_volume(size=1, name=name("stuck"))
    wait_volume(conn, volume.id, "available")
    wait_volume(conn, other.id, "available")
    conn.compute.create_volume_attachment(vm, volume_id=volume.id)
    wait_volume(conn, volume.id, "in-use")
    admin.block_storage.update_quota_set(tenant.project_id, gigabytes=4)
    admin.block_storage.reset_volume_status(other, "error", None, None)

    def extend(volume_id: str, size: int, version: str = "3.42") -> Any:
        body = {"os-extend": {"new_size": size}}
        path = f"/volumes/{volume_id}/action"
        return conn.block_storage.post(path, json=body, microversion=version, raise_exc=False)

    for volume_id, size, version, code in (
        (volume.id, 2, "3.41", 400),  # attached, before online extend
        (volume.id, 1, "3.42", 400),  # not larger
        (volume.id, 0, "3.42", 400),
        (volume.id, 5, "3.42", 413),  # 1 + 1 + 4 > 4 GiB
        (other.id, 2, "3.42", 400),  # in error
    ):
        refused = extend(volume_id, size, version)
        fault = "overLimit" if code == 413 else "badRequest"
        assert refused.status_code == code and list(refused.json()) == [fault], refused.text
    assert conn.block_storage.get_limits().absolute.total_gigabytes_used == 2
    kept = conn.block_storage.get_volume(volume.id)
    assert (kept.size, kept.status) == (1, "in-use")
    assert conn.block_storage.get_volume(other.id).status == "error"

    server.cli("--os-volume-api-version", "3.42", "volume", "set", "--size", "2", volume.id)
    grown = wait_volume(conn, volume.id, "in-use")
    assert grown.size == 2
    (path,) = (server.data_dir / "volumes").glob(f"*/volume-{volume.id}")
    assert image_size(path) == 2 << 30
    deadline = time.monotonic() + 30  # compute hears of it after the volume is in use
    while (
        f"volume on /dev/vdb grew to {2 << 30} bytes"
        not in server.cli("console", "log", "show", vm.id).stdout
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert conn.block_storage.get_limits().absolute.total_gigabytes_used == 3

    conn.compute.delete_server(vm)
    wait_gone(conn, vm.id)
    wait_volume(conn, volume.id, "available")
    admin.block_storage.reset_volume_status(other, "available", None, None)
    for gone in (volume, other):
        conn.block_storage.delete_volume(gone.id)


def image_size(path: Any) -> int:
    import json
    import subprocess

    found = subprocess.run(
        ["qemu-img", "info", "-U", "--output", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return int(json.loads(found)["virtual-size"])


def _exported_to(server: Server, volume_id: str) -> list[str]:
    """The connectors the volume's NBD export serves (none: no export runs)."""
    records = list((server.data_dir / "volume-state").glob(f"*/nbd/{volume_id}.json"))
    return [c for r in records for c in json.loads(r.read_text())["connectors"]]


def _attached_server(admin: Any, image: Any, label: str) -> tuple[Any, Any]:
    """A new ACTIVE server (the fake driver) with a new volume attached."""
    vm = admin.compute.create_server(
        name=name(label), image_id=image.id, flavor_id="1", networks="none"
    )
    vm = wait_for(admin, vm.id, "ACTIVE")
    volume = admin.block_storage.create_volume(size=1, name=name("carried"))
    wait_volume(admin, volume.id, "available")
    admin.compute.create_volume_attachment(vm, volume_id=volume.id)
    wait_volume(admin, volume.id, "in-use")
    return vm, volume


def test_live_migration_moves_the_volume_connections(
    server: Server, admin: Any, volume_image: Any
) -> None:
    """A server with a volume attached moves live (the fake driver): the destination host
    connects the volume for itself and the source's connection goes, so `volume show` names
    the new host and the export serves it alone. A move that fails once the destination is
    ready leaves the volume as it was: the destination's connection gone, the source's kept."""
    vm, volume = _attached_server(admin, volume_image, "live")
    (before,) = server.cli_json("volume", "show", volume.id)["attachments"]
    assert before["host_name"] == vm.compute_host
    assert _exported_to(server, volume.id) == [f"overcast:{vm.compute_host}"]

    admin.compute.live_migrate_server(vm, host=None, block_migration="auto")
    deadline = time.monotonic() + 30
    while (moved := admin.compute.get_server(vm.id)).compute_host == vm.compute_host:
        assert time.monotonic() < deadline and moved.status != "ERROR", moved
        time.sleep(0.1)
    moved = wait_for(admin, vm.id, "ACTIVE")
    (after,) = server.cli_json("volume", "show", volume.id)["attachments"]
    assert after["host_name"] == moved.compute_host != vm.compute_host
    assert after["attachment_id"] != before["attachment_id"]
    assert _exported_to(server, volume.id) == [f"overcast:{moved.compute_host}"]
    shown = server.cli_json("server", "show", vm.id)
    assert [v["id"] for v in shown["volumes_attached"]] == [volume.id]

    admin.compute.set_server_metadata(vm, **{"fake:fail_live_migration": "true"})
    admin.compute.live_migrate_server(vm, host=None, block_migration="auto")
    deadline = time.monotonic() + 30
    while not [m for m in admin.compute.migrations(instance_uuid=vm.id)
               if m.migration_type == "live-migration" and m.status == "error"]:  # fmt: skip
        assert time.monotonic() < deadline
        time.sleep(0.1)
    stayed = wait_for(admin, vm.id, "ACTIVE")
    assert stayed.compute_host == moved.compute_host and stayed.task_state is None
    assert server.cli_json("volume", "show", volume.id)["attachments"] == [after]
    assert _exported_to(server, volume.id) == [f"overcast:{moved.compute_host}"]

    server.cli("server", "remove", "volume", vm.id, volume.id)
    wait_volume(admin, volume.id, "available")
    assert _exported_to(server, volume.id) == []
    admin.compute.delete_server(vm)
    wait_gone(admin, vm.id)
    admin.block_storage.delete_volume(volume.id)


def test_cold_migration_moves_the_volume_connections(
    server: Server, admin: Any, volume_image: Any
) -> None:
    """A cold migration of a server with a volume (the fake driver): while it waits for its
    confirm the destination holds an attachment of its own and the source's stays; a revert
    brings the source's back alone, a confirm leaves the destination's alone."""
    vm, volume = _attached_server(admin, volume_image, "cold")
    (before,) = server.cli_json("volume", "show", volume.id)["attachments"]
    source = vm.compute_host

    def attached() -> list[tuple[str, str]]:
        found = server.cli_json("volume", "show", volume.id)["attachments"]
        return sorted(((a["host_name"], a["attachment_id"]) for a in found),
                      key=lambda a: a[0] != source)  # fmt: skip

    def migrated() -> tuple[str, str]:
        """(the destination, its attachment) once the move waits for its confirm."""
        admin.compute.migrate_server(vm)
        dest = wait_for(admin, vm.id, "VERIFY_RESIZE").compute_host
        held, there = attached()
        assert held == (source, before["attachment_id"]) and there[0] == dest != source
        assert sorted(_exported_to(server, volume.id)) == sorted(
            f"overcast:{host}" for host in (source, dest)
        )
        return there

    migrated()
    admin.compute.revert_server_resize(vm)
    assert wait_for(admin, vm.id, "ACTIVE").compute_host == source
    assert attached() == [(source, before["attachment_id"])]
    assert _exported_to(server, volume.id) == [f"overcast:{source}"]
    there = migrated()
    admin.compute.confirm_server_resize(vm)
    assert wait_for(admin, vm.id, "ACTIVE").compute_host == there[0]
    assert attached() == [there]
    assert _exported_to(server, volume.id) == [f"overcast:{there[0]}"]
    shown = server.cli_json("server", "show", vm.id)
    assert [v["id"] for v in shown["volumes_attached"]] == [volume.id]

    server.cli("server", "remove", "volume", vm.id, volume.id)
    wait_volume(admin, volume.id, "available")
    admin.compute.delete_server(vm)
    wait_gone(admin, vm.id)
    admin.block_storage.delete_volume(volume.id)
