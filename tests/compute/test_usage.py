"""os-simple-tenant-usage: admins list every project's usage, a project sees its own only;
deleted servers still count for the time they ran."""

from __future__ import annotations

from typing import Any

from tests.compute.conftest import boot, wait_for, wait_gone
from tests.compute.nova_http import call, fault
from tests.helpers.server import Server

PERIOD = "start=2000-01-01T00:00:00&end=2999-01-01T00:00:00"


def test_usage_per_project(server: Server, admin: Any, tenant_factory: Any, cirros: Any) -> None:
    a, b = tenant_factory(), tenant_factory()
    kept = boot(a.conn, cirros, flavor="2")
    gone = boot(a.conn, cirros)
    wait_for(a.conn, kept.id, "ACTIVE")
    wait_for(a.conn, gone.id, "ACTIVE")
    a.conn.compute.delete_server(gone)
    wait_gone(a.conn, gone.id)

    mine = call(a.conn, "GET", f"/os-simple-tenant-usage/{a.project_id}?{PERIOD}").json()
    usage = mine["tenant_usage"]
    states = {s["instance_id"]: s["state"] for s in usage["server_usages"]}
    assert states == {kept.id: "active", gone.id: "terminated"}
    assert usage["total_hours"] > 0 and usage["total_memory_mb_usage"] > 0
    shown = server.cli_json("usage", "show", "--project", a.project_id, cloud="overcast")
    assert len(shown["Servers"]) == 2

    listed = server.cli_json("usage", "list")
    assert any(
        u["Project"] in (a.project_id, a.project_name) and len(u["Servers"]) == 2 for u in listed
    )
    every = call(admin, "GET", f"/os-simple-tenant-usage?{PERIOD}&detailed=1").json()
    ours = [u for u in every["tenant_usages"] if u["tenant_id"] == a.project_id]
    assert len(ours[0]["server_usages"]) == 2
    brief = call(admin, "GET", f"/os-simple-tenant-usage?{PERIOD}").json()["tenant_usages"]
    assert all("server_usages" not in u for u in brief)
    paged = call(a.conn, "GET", f"/os-simple-tenant-usage/{a.project_id}?{PERIOD}&limit=1").json()
    assert len(paged["tenant_usage"]["server_usages"]) == 1 and paged["tenant_usage_links"]

    empty = call(b.conn, "GET", f"/os-simple-tenant-usage/{b.project_id}?{PERIOD}").json()
    assert empty["tenant_usage"]["total_hours"] == 0
    fault(call(b.conn, "GET", f"/os-simple-tenant-usage/{a.project_id}?{PERIOD}"), 403)
    fault(call(b.conn, "GET", f"/os-simple-tenant-usage?{PERIOD}"), 403)
    fault(
        call(a.conn, "GET", f"/os-simple-tenant-usage/{a.project_id}?start=yesterday"),
        400,
        "Datetime is in invalid format",
    )
    fault(
        call(
            a.conn,
            "GET",
            f"/os-simple-tenant-usage/{a.project_id}?start=2020-01-02T00:00:00"
            "&end=2020-01-01T00:00:00",
        ),
        400,
        "start time cannot occur after the end time",
    )
    fault(call(a.conn, "GET", f"/os-simple-tenant-usage/{a.project_id}?{PERIOD}&marker=nope"), 400)
