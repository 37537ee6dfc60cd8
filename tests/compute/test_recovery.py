"""Killing the cloud in the middle of builds and starting it again: nothing stays in BUILD,
no claim outlives its instance, guests that were running still are."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable

import openstack
import pytest

from tests.compute.conftest import boot, wait_for
from tests.helpers.server import Server


def _db(srv: Server) -> sqlite3.Connection:
    return sqlite3.connect(srv.data_dir / "overcast.db")


def test_kill_during_builds_then_restart(start_server: Callable[..., Server]) -> None:
    env = {"OVERCAST_COMPUTE__FAKE_HOSTS": "2"}
    srv = start_server(env=env)
    admin = srv.connect("overcast")
    image = admin.image.create_image(
        name="img",
        data=b"\0" * 1024,
        disk_format="raw",
        container_format="bare",
        visibility="public",
    )
    running = admin.compute.wait_for_server(boot(admin, image), wait=20, interval=0.05)
    slow = [boot(admin, image, metadata={"fake:spawn_delay": "60"}) for _ in range(3)]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # wait until every slow build is spawning on a host
        if all(admin.compute.get_server(s.id).task_state == "spawning" for s in slow):
            break
        time.sleep(0.05)
    time.sleep(0.3)  # let the fake driver save its guests
    srv.kill()

    srv = start_server(env=env, data_dir=srv.data_dir)
    admin = srv.connect("overcast")
    for created in slow:
        server = wait_for(admin, created.id, "ERROR")
        assert "interrupted" in server.fault["message"]
    assert wait_for(admin, running.id, "ACTIVE").power_state == 1
    with _db(srv) as db:
        orphans = db.execute(
            "SELECT count(*) FROM compute_allocation WHERE consumer_uuid NOT IN "
            "(SELECT uuid FROM compute_instance WHERE deleted = 0 AND host IS NOT NULL)"
        ).fetchone()[0]
        assert orphans == 0
        for used, total in db.execute(
            "SELECT n.vcpus_used, coalesce(sum(a.vcpus), 0) FROM compute_node n LEFT JOIN "
            "compute_allocation a ON a.node = n.hypervisor_hostname GROUP BY n.id"
        ):
            assert used == total
    for created in slow:
        admin.compute.delete_server(created.id)
    admin.compute.delete_server(running.id)


def test_kill_during_resize_rolls_back(start_server: Callable[..., Server]) -> None:
    """kill -9 while a resize's destination is spawning: on restart the server is back on its
    source host with its old flavor, quota usage counts that flavor only, the migration is in
    error and no action event is left in progress."""
    env = {"OVERCAST_COMPUTE__FAKE_HOSTS": "2"}
    srv = start_server(env=env)
    admin = srv.connect("overcast")
    image = admin.image.create_image(
        name="img", data=b"\0" * 1024, disk_format="raw", container_format="bare"
    )
    server = admin.compute.wait_for_server(boot(admin, image), wait=20, interval=0.05)
    source = server.compute_host
    admin.compute.set_server_metadata(server, **{"fake:spawn_delay": "60"})
    admin.compute.resize_server(server, "2")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # until the destination is spawning the new guest
        if admin.compute.get_server(server.id).task_state == "resize_finish":
            break
        time.sleep(0.05)
    srv.kill()

    srv = start_server(env=env, data_dir=srv.data_dir)
    admin = srv.connect("overcast")
    after = admin.compute.get_server(server.id)
    assert after.task_state is None and after.compute_host == source
    assert after.flavor["original_name"] == "m1.tiny"
    usage = admin.compute.get(f"/os-quota-sets/{after.project_id}/detail").json()["quota_set"]
    assert usage["cores"]["in_use"] == after.flavor["vcpus"]
    assert usage["ram"]["in_use"] == after.flavor["ram"]
    assert [m.status for m in admin.compute.migrations(instance_uuid=server.id)] == ["error"]
    for action in admin.compute.server_actions(server.id):
        shown = admin.compute.get_server_action(action.request_id, server.id)
        assert all(e["finish_time"] for e in shown.events), shown.events
    admin.compute.delete_server(server.id)


def test_kill_after_a_live_migration_switched_over_finishes_it(
    start_server: Callable[..., Server],
) -> None:
    """kill -9 once a live migration's guest has switched over (its record `post-migrating`),
    before the record puts the server on its destination: the restart takes the move on to
    the destination (`completed`, the guest there only), not back to its source."""
    env = {"OVERCAST_COMPUTE__FAKE_HOSTS": "2"}
    srv = start_server(env=env)
    admin = srv.connect("overcast")
    image = admin.image.create_image(
        name="img", data=b"\0" * 1024, disk_format="raw", container_format="bare"
    )
    held = {"fake:switch_over_hold": "60"}  # the source waits after the switch-over
    server = admin.compute.wait_for_server(boot(admin, image, metadata=held), interval=0.05)
    source = server.compute_host
    admin.compute.live_migrate_server(server, host=None, block_migration="auto")
    deadline = time.monotonic() + 15
    while [m.status for m in admin.compute.migrations(instance_uuid=server.id)] != [
        "post-migrating"
    ]:
        assert time.monotonic() < deadline, "the live migration never switched over"
        time.sleep(0.05)
    time.sleep(0.3)  # let the fake driver save its guests
    srv.kill()

    srv = start_server(env=env, data_dir=srv.data_dir)
    admin = srv.connect("overcast")
    moved = wait_for(admin, server.id, "ACTIVE")
    assert moved.compute_host != source and moved.power_state == 1
    assert [m.status for m in admin.compute.migrations(instance_uuid=server.id)] == ["completed"]
    console = admin.compute.get_server_console_output(server)["output"]
    assert f"arrived on {moved.compute_host} by live migration" in console
    deadline = time.monotonic() + 10  # the source's copy goes (the fake saves it soon after)
    saved = srv.data_dir / "compute" / "fake" / f"{source}.json"
    while server.id in json.loads(saved.read_text()):
        assert time.monotonic() < deadline, "the source kept its copy of the guest"
        time.sleep(0.1)
    admin.compute.delete_server(server.id)


def test_attaches_and_detaches_cut_short_are_settled_at_restart(
    start_server: Callable[..., Server],
) -> None:
    """What a kill -9 leaves of volume attaches and detaches, made with the block storage
    API directly: an attachment the server's record does not list (an attach cut short) is
    deleted at restart and its volume is available again; a volume the record lists whose
    attachment the volume service no longer holds (a detach cut short after it let go) leaves
    the record; an attachment both hold stays. (The guest's side: tests/compute/qemu.)"""
    srv = start_server()
    admin = srv.connect("overcast")
    image = admin.image.create_image(
        name="img", data=b"\0" * 1024, disk_format="raw", container_format="bare"
    )
    server = admin.compute.wait_for_server(boot(admin, image), wait=20, interval=0.05)
    storage = admin.block_storage
    cut, gone, kept = (storage.create_volume(size=1, name=n) for n in ("cut", "gone", "kept"))
    for volume in (cut, gone, kept):
        storage.wait_for_status(volume, "available", wait=30, interval=0.1)
    for volume in (gone, kept):
        admin.compute.create_volume_attachment(server, volume_id=volume.id)
        storage.wait_for_status(volume, "in-use", wait=30, interval=0.1)
    half = storage.create_attachment(cut.id, instance=server.id, connector={"host": "x"})
    assert storage.get_volume(cut.id).status == "attaching"
    (gone_attachment,) = list(storage.attachments(volume_id=gone.id))
    storage.delete_attachment(gone_attachment.id)
    srv.kill()

    srv = start_server(data_dir=srv.data_dir)
    admin = srv.connect("overcast")
    storage = admin.block_storage
    deadline = time.monotonic() + 30  # settled once the volume service answers
    while list(storage.attachments(volume_id=cut.id)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not list(storage.attachments(volume_id=cut.id))
    assert storage.get_volume(cut.id).status == "available"
    with pytest.raises(openstack.exceptions.NotFoundException):
        storage.get_attachment(half.id)
    while time.monotonic() < deadline:
        listed = {a.volume_id for a in admin.compute.volume_attachments(server)}
        if listed == {kept.id}:
            break
        time.sleep(0.2)
    assert listed == {kept.id}
    assert storage.get_volume(kept.id).status == "in-use"
    assert storage.get_volume(gone.id).status == "available"
    # Attaches and detaches go on as usual.
    admin.compute.create_volume_attachment(server, volume_id=cut.id)
    storage.wait_for_status(storage.get_volume(cut.id), "in-use", wait=30, interval=0.1)
    admin.compute.delete_volume_attachment(kept.id, server)
    storage.wait_for_status(storage.get_volume(kept.id), "available", wait=30, interval=0.1)
