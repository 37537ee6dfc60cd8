"""os-services through `openstack compute service list/set` and the SDK: disable with a reason,
force down, delete; the pre-2.53 action paths; admins only. Services are restored afterwards."""

from __future__ import annotations

import uuid
from typing import Any

from tests.compute.nova_http import call, fault
from tests.helpers.server import Server


def _compute2(admin: Any) -> Any:
    return next(
        s for s in admin.compute.services() if s.host == "compute2" and s.binary == "nova-compute"
    )


def test_cli_service_list_and_disable(server: Server, admin: Any) -> None:
    listed = server.cli_json("compute", "service", "list")
    binaries = {s["Binary"] for s in listed}
    assert {"nova-compute", "nova-scheduler", "nova-conductor"} <= binaries
    assert all(s["State"] == "up" and s["Status"] == "enabled" for s in listed)
    try:
        server.cli(
            "compute",
            "service",
            "set",
            "--disable",
            "--disable-reason",
            "maintenance",
            "compute2",
            "nova-compute",
        )
        row = _compute2(admin)
        assert row.status == "disabled" and row.disabled_reason == "maintenance"
        hyp = next(h for h in admin.compute.hypervisors() if h.name == "compute2")
        assert hyp.status == "disabled"
    finally:
        server.cli("compute", "service", "set", "--enable", "compute2", "nova-compute")
    assert _compute2(admin).status == "enabled"


def test_force_down_and_old_actions(admin: Any) -> None:
    svc = _compute2(admin)
    try:
        done = call(admin, "PUT", f"/os-services/{svc.id}", body={"forced_down": True})
        assert done.json()["service"]["state"] == "down"
        assert done.json()["service"]["forced_down"] is True
        old = call(
            admin,
            "PUT",
            "/os-services/disable-log-reason",
            "2.11",
            {"host": "compute2", "binary": "nova-compute", "disabled_reason": "old"},
        )
        assert old.json()["service"] == {
            "host": "compute2",
            "binary": "nova-compute",
            "status": "disabled",
            "disabled_reason": "old",
        }
        listed = call(admin, "GET", "/os-services?host=compute2", "2.11").json()["services"]
        assert isinstance(listed[0]["id"], int) and listed[0]["status"] == "disabled"
    finally:
        call(
            admin, "PUT", f"/os-services/{svc.id}", body={"status": "enabled", "forced_down": False}
        )
    assert _compute2(admin).state == "up"


def test_bad_input_policy_and_delete(admin: Any, demo: Any) -> None:
    svc = _compute2(admin)
    path = f"/os-services/{svc.id}"
    for body, needle in [
        ({}, "At least one of 'status' or 'forced_down'"),
        ({"status": "sleeping"}, "is not one of"),
        ({"status": "enabled", "disabled_reason": "x"}, "with status 'enabled' is invalid"),
        ({"forced_down": "yes"}, "boolean"),
        ({"status": "disabled", "colour": "red"}, "Additional properties"),
    ]:
        fault(call(admin, "PUT", path, body=body), 400, needle)
    scheduler = next(s for s in admin.compute.services() if s.binary == "nova-scheduler")
    fault(
        call(admin, "PUT", f"/os-services/{scheduler.id}", body={"status": "disabled"}),
        400,
        "Only nova-compute services can be updated",
    )
    missing = str(uuid.uuid4())
    fault(call(admin, "PUT", f"/os-services/{missing}", body={"status": "disabled"}), 404)
    fault(call(admin, "DELETE", f"/os-services/{missing}"), 404)
    fault(call(demo, "GET", "/os-services"), 403)
    fault(call(demo, "PUT", path, body={"status": "disabled"}), 403)
    fault(call(demo, "DELETE", path), 403)
    assert _compute2(admin).status == "enabled"


def test_delete_compute_service(start_server: Any) -> None:
    srv = start_server(env={"OVERCAST_COMPUTE__FAKE_HOSTS": "2"})
    admin = srv.connect("overcast")
    victim = next(s for s in admin.compute.services() if s.host == "compute2")
    assert call(admin, "DELETE", f"/os-services/{victim.id}").status_code == 204
    assert victim.id not in {s.id for s in admin.compute.services()}
    names = [
        h["hypervisor_hostname"]
        for h in call(admin, "GET", "/os-hypervisors").json()["hypervisors"]
    ]
    assert "compute2" not in names
