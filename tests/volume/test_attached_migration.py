"""Moving an attached volume between back ends, as Cinder and Nova do it: the volume service
makes a temporary volume on the destination and asks compute to swap the server's disk
(PUT os-volume_attachments with another volumeId); compute copies the data (the fake driver
copies the files, as a hypervisor would) and calls os-migrate_volume_completion, after which
the volume keeps its id, its server and the data the "guest" wrote, on the other back end.
Then the refusals of both APIs: Nova's statuses for the swap, Cinder's for the completion."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openstack
import pytest

from tests.compute.conftest import wait_for
from tests.compute.nova_http import call, fault
from tests.helpers.server import Server
from tests.volume.conftest import holds, name, wait_migrated, wait_volume, write


@pytest.fixture(scope="module")
def image(cloud: Server) -> Any:
    return cloud.connect().image.create_image(
        name=name("img"),
        data=b"\0" * 4096,
        disk_format="raw",
        container_format="bare",
        visibility="public",
        allow_duplicates=True,
    )


@pytest.fixture(scope="module")
def tiers(cloud: Server) -> tuple[Any, Any]:
    bs = cloud.connect().block_storage
    fast = bs.create_type(name=name("fast"), extra_specs={"volume_backend_name": "fast"})
    slow = bs.create_type(name=name("slow"), extra_specs={"volume_backend_name": "slow"})
    return fast, slow


def _boot(cloud: Server, conn: Any, image: Any) -> Any:
    server = conn.compute.create_server(
        name=name("vm"), image_id=image.id, flavor_id="1", networks="none"
    )
    return wait_for(conn, server.id, "ACTIVE")


def _attached(
    conn: Any, server: Any, size: int = 1, volume_type: Any = None, data: Path | None = None
) -> Any:
    """A new volume attached to `server`; with `data`, the "guest's" pattern 0x5a written
    first into its file in that back end directory (attached, another process serves it)."""
    fields = {"volume_type": volume_type.id} if volume_type else {}
    volume = conn.block_storage.create_volume(size=size, name=name("v"), **fields)
    wait_volume(conn, volume.id, "available")
    if data is not None:
        write(data / f"volume-{volume.id}", "qcow2", "0x5a")
    conn.compute.create_volume_attachment(server, volume_id=volume.id)
    return wait_volume(conn, volume.id, "in-use")


def _only_one(conn: Any, volume: Any, timeout: float = 30.0) -> None:
    """No temporary volume of a migration is left beside `volume` (its delete may still be
    going on a moment after the migration ended)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [v.id for v in conn.block_storage.volumes(all_projects=True, name=volume.name)]
        if found == [volume.id] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert found == [volume.id], found


FORMATS = {"fast": "qcow2", "slow": "raw"}


def test_attached_volume_moves_with_its_data(
    cloud: Server, image: Any, tiers: tuple[Any, Any]
) -> None:
    admin = cloud.connect()
    types = dict(zip(("fast", "slow"), tiers, strict=True))
    root: Path = cloud.tiers  # type: ignore[attr-defined]
    vm = _boot(cloud, admin, image)
    # The default type: the scheduler puts it on either back end, and it may move to the other.
    volume = admin.block_storage.create_volume(size=1, name=name("v"))
    volume = wait_volume(admin, volume.id, "available")
    here, there = ("fast", "slow") if volume.host.endswith("#fast") else ("slow", "fast")
    source, target = root / here / f"volume-{volume.id}", root / there / f"volume-{volume.id}"
    write(source, FORMATS[here], "0x5a")  # what the guest wrote before
    admin.compute.create_volume_attachment(vm, volume_id=volume.id)
    wait_volume(admin, volume.id, "in-use")

    there_pool = volume.host.replace(f"@{here}#{here}", f"@{there}#{there}")
    cloud.cli("volume", "migrate", "--host", there_pool, volume.id)
    moved = wait_migrated(admin, volume.id)
    assert moved.migration_status == "success" and moved.status == "in-use", moved
    assert moved.host == there_pool and moved.attachments[0]["server_id"] == vm.id
    assert holds(target, FORMATS[there], "0x5a") and not source.exists()
    _only_one(admin, volume)
    # The server still has the volume by its id, on the same device.
    shown = cloud.cli_json("server", "show", vm.id)
    assert [v["id"] for v in shown["volumes_attached"]] == [volume.id]
    (attachment,) = admin.compute.volume_attachments(vm)
    assert attachment.volume_id == volume.id and attachment.device == "/dev/vdb"
    assert "swap_volume" in {a.action for a in admin.compute.server_actions(vm)}

    # A retype to the type of the first back end moves it back, still attached.
    cloud.cli(
        "volume", "set", "--type", types[here].name, "--migration-policy", "on-demand", volume.id
    )
    back = wait_migrated(admin, volume.id)
    assert back.migration_status == "success" and back.volume_type == types[here].name
    assert back.status == "in-use" and back.host.endswith(f"@{here}#{here}")
    assert holds(source, FORMATS[here], "0x5a") and not target.exists()
    _only_one(admin, volume)

    # Detaching works as before, and the volume keeps its data.
    cloud.cli("server", "remove", "volume", vm.id, volume.id)
    wait_volume(admin, volume.id, "available")
    assert holds(source, FORMATS[here], "0x5a")

    # A stopped server's disk cannot be swapped (Nova: 409): the migration ends in error and
    # the volume stays where it was, attached, with its data; the temporary volume goes.
    admin.block_storage.retype_volume(volume.id, "__DEFAULT__", migration_policy="never")
    admin.compute.create_volume_attachment(vm, volume_id=volume.id)
    wait_volume(admin, volume.id, "in-use")
    admin.compute.stop_server(vm)
    wait_for(admin, vm.id, "SHUTOFF")
    admin.block_storage.migrate_volume(volume.id, host=there_pool)
    stayed = wait_migrated(admin, volume.id)
    assert stayed.migration_status == "error" and stayed.status == "in-use"
    assert stayed.host.endswith(f"@{here}#{here}")
    assert stayed.attachments[0]["server_id"] == vm.id
    assert holds(source, FORMATS[here], "0x5a") and not target.exists()
    _only_one(admin, volume)
    admin.compute.delete_server(vm)
    wait_volume(admin, volume.id, "available")
    admin.block_storage.delete_volume(volume.id)


def _put(conn: Any, server: Any, old: str, new: str) -> Any:
    body = {"volumeAttachment": {"volumeId": new}}
    return call(conn, "PUT", f"/servers/{server.id}/os-volume_attachments/{old}", "2.1", body)


def _completion(conn: Any, volume_id: str, args: Any) -> Any:
    return conn.block_storage.post(
        f"/volumes/{volume_id}/action",
        json={"os-migrate_volume_completion": args},
        microversion="3.0",
        raise_exc=False,
    )


def _cinder_fault(response: Any, status: int, key: str) -> None:
    assert response.status_code == status, response.text
    assert list(response.json()) == [key] and response.json()[key]["code"] == status


def test_swap_and_completion_refusals(cloud: Server, image: Any) -> None:
    admin = cloud.connect()
    demo = cloud.connect("overcast-demo")
    vm = _boot(cloud, demo, image)
    other = _boot(cloud, demo, image)
    old = _attached(demo, vm, size=2)
    busy = _attached(demo, other)
    small = demo.block_storage.create_volume(size=1, name=name("small"))
    free = demo.block_storage.create_volume(size=2, name=name("free"))
    for volume in (small, free):
        wait_volume(demo, volume.id, "available")

    # Only admins (the block storage service) swap; only a migrating volume is swapped.
    fault(_put(demo, vm, old.id, free.id), 403)
    fault(_put(admin, vm, old.id, free.id), 409, "is not migrating")
    fault(_put(admin, vm, str(uuid.uuid4()), free.id), 404)
    fault(_put(admin, SimpleNamespace(id=str(uuid.uuid4())), old.id, free.id), 404)

    # As if the volume service were migrating it: Nova's checks on the volumes.
    admin.block_storage.reset_volume_status(
        old, status="in-use", attach_status="attached", migration_status="migrating"
    )
    fault(_put(admin, vm, old.id, str(uuid.uuid4())), 400)  # unknown new volume: in the body
    fault(_put(admin, vm, old.id, busy.id), 400, "must be detached")
    fault(_put(admin, vm, old.id, small.id), 400, "same size or larger")
    fault(_put(admin, other, old.id, free.id), 404)  # not attached to that server
    demo.compute.stop_server(vm)
    wait_for(demo, vm.id, "SHUTOFF")
    fault(_put(admin, vm, old.id, free.id), 409, "vm_state stopped")
    for volume, status in ((old, "in-use"), (busy, "in-use"), (free, "available")):
        assert demo.block_storage.get_volume(volume.id).status == status
    assert [a.volume_id for a in demo.compute.volume_attachments(vm)] == [old.id]

    # os-migrate_volume_completion: admins only, known volumes, only mid-migration pairs.
    _cinder_fault(_completion(demo, old.id, {"new_volume": free.id}), 403, "forbidden")
    _cinder_fault(
        _completion(admin, old.id, {"new_volume": str(uuid.uuid4())}), 404, "itemNotFound"
    )
    _cinder_fault(_completion(admin, old.id, {"new_volume": "x"}), 400, "badRequest")
    _cinder_fault(_completion(admin, old.id, {"new_volume": free.id}), 400, "badRequest")
    _cinder_fault(
        _completion(admin, old.id, {"new_volume": free.id, "error": "maybe"}), 400, "badRequest"
    )
    # Neither volume migrating: compute swapped two volumes of its own; the new id is kept.
    answer = _completion(admin, small.id, {"new_volume": free.id})
    assert answer.status_code == 200 and answer.json() == {"save_volume_id": free.id}
    assert demo.block_storage.get_volume(old.id).host == old.host

    # A volume on two servers cannot move: compute swaps one server's disk.
    shared_type = admin.block_storage.create_type(
        name=name("multi"), extra_specs={"multiattach": "<is> True"}
    )
    shared = demo.block_storage.create_volume(size=1, volume_type=shared_type.id)
    wait_volume(demo, shared.id, "available")
    for server in (vm, other):
        demo.compute.create_volume_attachment(server, volume_id=shared.id)
        wait_volume(demo, shared.id, "in-use")
    host = admin.block_storage.get_volume(shared.id).host
    here, there = ("fast", "slow") if host.endswith("#fast") else ("slow", "fast")
    elsewhere = host.replace(f"@{here}#{here}", f"@{there}#{there}")
    with pytest.raises(openstack.exceptions.BadRequestException, match="more than one server"):
        admin.block_storage.migrate_volume(shared.id, host=elsewhere)
    assert demo.block_storage.get_volume(shared.id).migration_status is None
    admin.block_storage.reset_volume_status(old, migration_status="error")
    for server in (vm, other):
        demo.compute.delete_server(server)
    for volume in (old, busy, small, free, shared):  # detached as their servers go
        wait_volume(demo, volume.id, "available", timeout=120)
        demo.block_storage.delete_volume(volume.id)


def test_kill_during_attached_migrations(start_server: Any, tmp_path: Path) -> None:
    """SIGKILL while attached volumes move, then a restart: no volume stays migrating, no
    temporary volume no server took is left, and each volume is attached to its server with
    the data the guest wrote, wherever its row says it is."""
    import json

    backends = {
        "fast": {"volume_backend_name": "fast", "path": str(tmp_path / "fast")},
        "slow": {"volume_backend_name": "slow", "path": str(tmp_path / "slow"),
                 "volume_format": "raw"},
    }  # fmt: skip
    env = {"OVERCAST_VOLUME__BACKENDS": json.dumps(backends)}
    srv = start_server(env=env, data_dir=tmp_path / "cloud")
    conn = srv.connect()
    image = conn.image.create_image(
        name="img", data=b"\0" * 4096, disk_format="raw", container_format="bare"
    )
    vm = _boot(srv, conn, image)
    moving = []
    for i in range(4):
        volume = wait_volume(conn, conn.block_storage.create_volume(size=1, name=f"m{i}").id,
                             "available")  # fmt: skip
        here = "fast" if volume.host.endswith("#fast") else "slow"
        write(tmp_path / here / f"volume-{volume.id}", FORMATS[here], "0x5a")
        conn.compute.create_volume_attachment(vm, volume_id=volume.id)
        wait_volume(conn, volume.id, "in-use")
        moving.append((volume, here))
    for volume, here in moving:
        there = "slow" if here == "fast" else "fast"
        pool = volume.host.replace(f"@{here}#{here}", f"@{there}#{there}")
        conn.block_storage.migrate_volume(volume.id, host=pool)
    seen = False
    deadline = time.monotonic() + 20
    while not seen and time.monotonic() < deadline:
        states = [conn.block_storage.get_volume(v.id).migration_status for v, _ in moving]
        seen = any(s in ("starting", "migrating") for s in states)
    srv.kill()
    assert seen, "the kill came when nothing was moving"

    srv = start_server(env=env, data_dir=tmp_path / "cloud")
    conn = srv.connect()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = list(conn.block_storage.volumes(all_projects=True))
        busy = [v.id for v in rows if v.migration_status in ("starting", "migrating")]
        temporary = [v for v in rows if str(v.migration_status).startswith("target:")]
        if not busy and all(v.attachments for v in temporary):
            break
        time.sleep(0.2)
    assert not busy and all(v.attachments for v in temporary), (busy, temporary)
    for volume, _ in moving:
        found = conn.block_storage.get_volume(volume.id)
        assert found.status == "in-use" and found.attachments[0]["server_id"] == vm.id
        where = "fast" if found.host.endswith("#fast") else "slow"
        assert holds(tmp_path / where / f"volume-{volume.id}", FORMATS[where], "0x5a")
