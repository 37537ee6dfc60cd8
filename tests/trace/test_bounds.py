"""Traces are bounded per resource: past `trace.keep_per_resource` the oldest are dropped, with
their spans; unknown resources and requests are 404s in each service's own error body."""

from __future__ import annotations

from collections.abc import Callable

import openstack

from tests.compute.conftest import boot, wait_for
from tests.helpers.server import Server
from tests.trace import steps


def test_oldest_traces_are_dropped(start_server: Callable[..., Server]) -> None:
    server = start_server({"OVERCAST_TRACE__KEEP_PER_RESOURCE": "2"})
    admin: openstack.connection.Connection = server.connect()
    image = admin.image.create_image(
        name="tiny", data=b"\0" * 4096, disk_format="raw", container_format="bare"
    )
    vm = boot(admin, image)
    wait_for(admin, vm.id, "ACTIVE")
    path = f"/servers/{vm.id}/trace"
    create = steps.wait_trace(admin.compute, path, steps.has("ACTIVE"))
    for action in ("stop", "start"):
        getattr(admin.compute, f"{action}_server")(vm)
        wait_for(admin, vm.id, "SHUTOFF" if action == "stop" else "ACTIVE")
        steps.wait_trace(admin.compute, path, lambda t, a=action: t["action"] == a)
    actions = admin.compute.get(f"/servers/{vm.id}/os-instance-actions").json()
    assert len(actions["instanceActions"]) == 3  # the actions stay; only their traces go
    gone = admin.compute.get(f"/servers/{vm.id}/os-instance-actions/{create['request_id']}/trace")
    assert gone.status_code == 404
    for action in actions["instanceActions"][:2]:
        kept = admin.compute.get(
            f"/servers/{vm.id}/os-instance-actions/{action['request_id']}/trace"
        )
        assert kept.status_code == 200 and kept.json()["trace"]["action"] == action["action"]


def test_unknown_resources(admin: openstack.connection.Connection) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    compute = admin.compute.get(f"/servers/{missing}/trace")
    assert compute.status_code == 404 and "itemNotFound" in compute.json()
    volume = admin.block_storage.get(f"/volumes/{missing}/trace")
    assert volume.status_code == 404 and "itemNotFound" in volume.json()
    image = admin.image.get(f"/images/{missing}/trace")
    assert image.status_code == 404
    streamed = admin.compute.get(
        f"/servers/{missing}/trace", headers={"Accept": "text/event-stream"}
    )
    assert streamed.status_code == 404 and "itemNotFound" in streamed.json()
