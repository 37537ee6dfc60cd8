"""The traces of a resize, a cold migration and a live migration: their main steps in order,
each found under the server's action."""

from __future__ import annotations

from typing import Any

import openstack

from tests.compute.conftest import boot, wait_for
from tests.trace import steps


def newest(conn: openstack.connection.Connection, server_id: str, action: str, last: str) -> Any:
    """The trace of the server's newest action once it is `action` with `last` written."""
    done = steps.has(last)
    path = f"/servers/{server_id}/trace"
    trace = steps.wait_trace(conn.compute, path, lambda t: t["action"] == action and done(t))
    assert all(s["status"] == "ok" for s in trace["spans"]), trace["spans"]
    return trace


def test_resize_and_migrations_are_traced(
    admin: openstack.connection.Connection,
    cirros: Any,  # noqa: F811
) -> None:
    c = admin.compute
    vm = c.wait_for_server(boot(admin, cirros), wait=20, interval=0.05)
    try:
        c.resize_server(vm, "2")
        wait_for(admin, vm.id, "VERIFY_RESIZE")
        resize = newest(admin, vm.id, "resize", "VERIFY_RESIZE")
        steps.in_order(
            resize,
            "token checked",
            "request validated",
            "quota reserved",
            "conductor",
            "scheduled",
            "resources claimed",
            "source host stopped the guest",
            "image fetched",
            "destination host started the guest",
            "VERIFY_RESIZE",
        )
        request = resize["request_id"]
        actions = c.get(f"/servers/{vm.id}/os-instance-actions").json()["instanceActions"]
        assert any(a["request_id"] == request and a["action"] == "resize" for a in actions)
        c.confirm_server_resize(vm)
        wait_for(admin, vm.id, "ACTIVE")
        c.live_migrate_server(vm, block_migration="auto")
        wait_for(admin, vm.id, "ACTIVE")
        live = newest(admin, vm.id, "live-migration", "ACTIVE")
        steps.in_order(
            live,
            "conductor",
            "scheduled",
            "resources claimed",
            "guest moved live",
            "destination host took the guest",
            "ACTIVE",
        )
        moved = next(s for s in live["spans"] if s["name"] == "guest moved live")
        assert moved["host"] and moved["info"]["target"]  # an admin sees the hosts
        # the older traces stay under their own requests
        again = c.get(f"/servers/{vm.id}/os-instance-actions/{request}/trace").json()["trace"]
        assert again["id"] == resize["id"]
    finally:
        c.delete_server(vm)


def test_snapshot_backup_and_evacuation_are_traced(
    admin: openstack.connection.Connection,
    demo: openstack.connection.Connection,
    cirros: Any,  # noqa: F811
) -> None:
    c = demo.compute
    vm = c.wait_for_server(boot(demo, cirros), wait=20, interval=0.05)
    try:
        image_id = c.create_server_image(vm, "snap", wait=True, timeout=30).id
        snap = newest(demo, vm.id, "createImage", "image active")
        steps.in_order(
            snap,
            "token checked",
            "request validated",
            "image record made",
            "guest disk snapshotted",
            "image uploaded",
            "image active",
        )
        made = next(s for s in snap["spans"] if s["name"] == "image record made")
        assert made["info"]["image"] == image_id and made["host"] is None  # the owner's view
        body = {"createBackup": {"name": "nightly", "backup_type": "daily", "rotation": 1}}
        assert c.post(f"/servers/{vm.id}/action", json=body).status_code == 202
        backup = newest(demo, vm.id, "createBackup", "image active")
        steps.in_order(
            backup,
            "request validated",
            "image record made",
            "guest disk snapshotted",
            "image uploaded",
            "image active",
        )
        assert any(s["name"] == "older backups rotated" for s in backup["spans"])
        for image in [image_id, *(i.id for i in demo.image.images(name="nightly"))]:
            demo.image.delete_image(image)
        a = admin.compute
        source = a.get_server(vm.id).compute_host
        service = next(s for s in a.services() if s.host == source and s.binary == "nova-compute")
        a.update_service_forced_down(service, source, "nova-compute", True)
        try:
            a.evacuate_server(vm)
            wait_for(admin, vm.id, "SHUTOFF", "ACTIVE")
        finally:
            a.update_service_forced_down(service, source, "nova-compute", False)
        evacuation = newest(admin, vm.id, "evacuate", "hypervisor defined and started")
        steps.in_order(
            evacuation,
            "request validated",
            "conductor",
            "scheduled",
            "resources claimed",
            "image fetched",
            "old guest removed",
            "hypervisor defined and started",
        )
        started = next(
            s for s in evacuation["spans"] if s["name"] == "hypervisor defined and started"
        )
        assert started["host"] and started["host"] != source  # an admin sees the new host
    finally:
        admin.compute.delete_server(vm)
