"""The admin's host-wide moves on a private cloud of two fake hosts: "migrate every instance
off this host" live-migrates a running instance to the other host; "evacuate every instance
off" rebuilds it on the first host once its new host is down, and the instance's page draws
the evacuation's steps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.dashboard.conftest import WebSession
from tests.helpers.server import Server


def test_migrate_and_evacuate_every_instance_off_a_host(
    start_server: Callable[..., Server],
) -> None:
    cloud = start_server(env={"OVERCAST_COMPUTE__FAKE_HOSTS": "2"})
    admin = cloud.connect("overcast")
    image = admin.image.create_image(
        name="moves", disk_format="raw", container_format="bare", data=b"\0" * 4096
    )
    flavor = admin.compute.find_flavor("m1.tiny")
    server = admin.compute.create_server(
        name="mover", flavor_id=flavor.id, image_id=image.id, networks="none"
    )
    server = admin.compute.wait_for_server(server, wait=60, interval=0.1)
    source = server.compute_host
    service = next(
        s for s in admin.compute.services() if s.host == source and "compute" in s.binary
    )
    web = WebSession(cloud)
    assert web.login("admin", cloud.password("admin")).status_code == 303
    answer = web.post(f"/admin/compute-services/{service.id}/do/migrate-off")
    assert answer.status_code == 303 and "error=" not in answer.headers["location"]
    moved = _moved_off(admin, server.id, source, "ACTIVE")
    down = next(
        s
        for s in admin.compute.services()
        if s.host == moved.compute_host and "compute" in s.binary
    )
    admin.compute.update_service_forced_down(down, down.host, "nova-compute", True)
    try:
        answer = web.post(f"/admin/compute-services/{down.id}/do/evacuate-off")
        assert answer.status_code == 303 and "error=" not in answer.headers["location"]
        back = _moved_off(admin, server.id, down.host, "SHUTOFF", "ACTIVE")
    finally:
        admin.compute.update_service_forced_down(down, down.host, "nova-compute", False)
    assert back.compute_host == source
    page = web.get(f"/project/instances/{server.id}").text
    workflow = page.split('id="workflow"', 1)[1]
    assert "evacuate" in workflow.split("</h2>", 1)[0]
    for step in ("conductor", "scheduled", "image fetched", "hypervisor defined and started"):
        assert f'<td class="step">{step}' in workflow, step


def _moved_off(admin: Any, server_id: str, host: str, *statuses: str) -> Any:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        moved = admin.compute.get_server(server_id)
        if moved.compute_host != host and moved.status in statuses and not moved.task_state:
            return moved
        time.sleep(0.5)
    raise AssertionError(f"{server_id} still on {host}: {moved.status}")
