"""The workflow trace of a boot, read through openstacksdk's authenticated session: the named
steps in order with sane timings, the stream, and another project's view (404)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import openstack

from tests.compute.conftest import boot, wait_for
from tests.helpers.isolation import Tenant
from tests.trace import steps

BOOT_STEPS = [
    "token checked",
    "request validated",
    "quota reserved",
    "record written",
    "conductor",
    "scheduled",
    "resources claimed",
    "compute agent",
    "image fetched",
    "hypervisor defined and started",
    "ACTIVE",
]


def trace_of(conn: openstack.connection.Connection, server_id: str) -> dict[str, Any]:
    response = conn.compute.get(f"/servers/{server_id}/trace")
    assert response.status_code == 200, response.text
    return dict(response.json()["trace"])


def settled(conn: openstack.connection.Connection, server_id: str) -> dict[str, Any]:
    """The trace once its last step (ACTIVE or a failure) is written."""
    done = steps.has("ACTIVE")
    return steps.wait_trace(
        conn.compute, f"/servers/{server_id}/trace", lambda t: done(t) or steps.failed(t)
    )


def test_boot_records_named_steps_in_order(
    demo: openstack.connection.Connection, cirros: Any
) -> None:
    server = boot(demo, cirros)
    wait_for(demo, server.id, "ACTIVE")
    trace = settled(demo, server.id)
    assert trace["action"] == "create"
    spans = trace["spans"]
    steps.in_order(trace, *BOOT_STEPS)
    by_id = {s["id"]: s for s in spans}
    for span in spans:
        assert span["status"] == "ok", span
        assert span["duration_ms"] is not None and 0 <= span["duration_ms"] < 10_000
        assert span["host"] is None  # the owner sees no hosts
        if span["parent"] in by_id:  # children start within their parents
            assert span["offset_ms"] >= by_id[span["parent"]]["offset_ms"] - 1
    kinds = {s["kind"] for s in spans}
    assert {"wsgi", "rpc", "db", "driver", "step"} <= kinds
    scheduled = next(s for s in spans if s["name"] == "scheduled")
    assert scheduled["info"]["filters"] and all(
        f["kept"] >= 1 for f in scheduled["info"]["filters"]
    )
    assert "weights" not in scheduled["info"]
    db = next(s for s in spans if s["kind"] == "db" and s["info"].get("writes"))
    assert db["info"]["statements"] >= 1


def test_admin_sees_hosts_and_weights(
    admin: openstack.connection.Connection, demo: openstack.connection.Connection, cirros: Any
) -> None:
    server = boot(demo, cirros)
    wait_for(demo, server.id, "ACTIVE")
    settled(demo, server.id)
    trace = trace_of(admin, server.id)
    assert all(s["host"] for s in trace["spans"])
    scheduled = next(s for s in trace["spans"] if s["name"] == "scheduled")
    assert scheduled["info"]["weights"]
    request_id = trace["request_id"]
    response = admin.compute.get(f"/servers/{server.id}/os-instance-actions/{request_id}/trace")
    assert response.json()["trace"]["id"] == trace["id"]


def test_other_project_gets_404(
    demo: openstack.connection.Connection, cirros: Any, tenant_factory: Any
) -> None:
    server = boot(demo, cirros)
    wait_for(demo, server.id, "ACTIVE")
    other: Tenant = tenant_factory()
    for path in (f"/servers/{server.id}/trace", f"/servers/{server.id}/trace?stream=1"):
        response = other.conn.compute.get(path)
        assert response.status_code == 404
        assert "itemNotFound" in response.json()
    response = demo.compute.get(f"/servers/{server.id}/os-instance-actions/req-nope/trace")
    assert response.status_code == 404
    assert "No trace" in response.json()["itemNotFound"]["message"]


def test_stream_delivers_steps_as_they_happen(
    demo: openstack.connection.Connection, cirros: Any
) -> None:
    # The spawn takes a while, so the stream opens while the boot is still under way (a fake
    # boot can be over before the client has sent its request).
    server = boot(demo, cirros, metadata={"fake:spawn_delay": "2"})
    received: list[tuple[float, dict[str, Any]]] = []

    def read() -> None:
        response = demo.compute.get(
            f"/servers/{server.id}/trace", headers={"Accept": "text/event-stream"}, stream=True
        )
        assert response.headers["Content-Type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines(chunk_size=None, decode_unicode=True):
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "span":
                received.append((time.time(), json.loads(line[6:])))
            elif line.startswith("data: ") and event == "end":
                return

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(timeout=30)
    assert not reader.is_alive()
    names = [data["name"] for _, data in received if data["phase"] == "end"]
    assert "ACTIVE" in names and "scheduled" in names
    starts = [data for _, data in received if data["phase"] == "start"]
    assert starts  # steps show while they run, before they end
    lags = [
        arrived - (_epoch(d["start"]) + (d["duration_ms"] or 0) / 1000)
        for arrived, d in received
        if d["phase"] == "end"
    ]
    assert max(lags) < 2.0, lags  # typically ~0.1 s; bench/trace.py measures it


def _epoch(iso: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(iso).timestamp()


def test_failed_scheduling_tells_the_owner_which_filter_and_why(
    admin: openstack.connection.Connection, demo: openstack.connection.Connection, cirros: Any
) -> None:
    flavor = admin.compute.create_flavor(
        name=f"huge-{time.monotonic_ns()}", ram=64, vcpus=1, disk=900_000
    )
    try:
        server = boot(demo, cirros, flavor=flavor.id)
        failed = wait_for(demo, server.id, "ERROR")
    finally:
        admin.compute.delete_flavor(flavor)
    message = failed.fault["message"]
    assert message.startswith("No valid host was found. ResourceFilter refused all 3 hosts")
    assert "900000 GB of disk" in message and "smaller flavor" in message
    assert "details" not in failed.fault or not failed.fault["details"]  # admins only
    trace = steps.wait_trace(demo.compute, f"/servers/{server.id}/trace", steps.has("ERROR"))
    scheduled = next(s for s in trace["spans"] if s["name"] == "scheduled")
    assert scheduled["status"] == "error" and scheduled["error"] == message
    resource = next(f for f in scheduled["info"]["filters"] if f["name"] == "ResourceFilter")
    assert resource["kept"] == 0 and resource["of"] == 3 and "reason" in resource
    assert "rejected_hosts" not in resource  # host names are for admins
    error = next(s for s in trace["spans"] if s["name"] == "ERROR")
    assert error["error"] == message
    names = [s["name"] for s in trace["spans"]]
    assert "compute agent" not in names and "ACTIVE" not in names
    admin_view = trace_of(admin, server.id)
    scheduled = next(s for s in admin_view["spans"] if s["name"] == "scheduled")
    resource = next(f for f in scheduled["info"]["filters"] if f["name"] == "ResourceFilter")
    assert len(resource["rejected_hosts"]) == 3


def test_boot_on_a_network_shows_ports_and_the_plugged_event(
    demo: openstack.connection.Connection, cirros: Any
) -> None:
    private = demo.network.find_network("private", ignore_missing=False)
    server = boot(demo, cirros, networks=[{"uuid": private.id}])
    wait_for(demo, server.id, "ACTIVE")
    trace = settled(demo, server.id)
    steps.in_order(trace, "image fetched", "ports created and bound", "vif-plugged event", "ACTIVE")
    spans = trace["spans"]
    by_id = {s["id"]: s for s in spans}
    ports = next(s for s in spans if s["name"] == "ports created and bound")
    assert ports["info"]["ports"] == 1 and ports["status"] == "ok"
    # the network API's requests made by the compute agent are children of the step
    network_calls = [s for s in spans if s["kind"] == "wsgi" and s["service"] == "network"]
    assert any(s["info"]["method"] == "POST" for s in network_calls)
    below = set()
    for call in network_calls:
        parent = by_id.get(call["parent"])
        while parent is not None and parent["id"] != ports["id"]:
            parent = by_id.get(parent["parent"])
        below.add(parent is not None)
    assert below == {True}
    # the vif-plugged event reached compute's API from the network service
    events = [s for s in spans if s["kind"] == "wsgi" and "os-server-external-events" in s["name"]]
    assert events


def test_failed_spawn_shows_each_attempt_and_why(
    admin: openstack.connection.Connection, demo: openstack.connection.Connection
) -> None:
    image = admin.image.create_image(
        name=f"fails-{time.monotonic_ns()}",
        data=b"\0" * 4096,
        disk_format="raw",
        container_format="bare",
        visibility="public",
        **{"fake:fail_spawn": "true"},
    )
    try:
        server = boot(demo, image)
        failed = wait_for(demo, server.id, "ERROR")
    finally:
        admin.image.delete_image(image)
    trace = steps.wait_trace(demo.compute, f"/servers/{server.id}/trace", steps.has("ERROR"))
    spawns = [s for s in trace["spans"] if s["name"] == "hypervisor defined and started"]
    assert spawns and all(s["status"] == "error" for s in spawns)
    assert all("fake driver was told to fail" in s["error"] for s in spawns)
    assert len(spawns) == len([s for s in trace["spans"] if s["name"] == "compute agent"])
    assert len(spawns) > 1  # rescheduled to other hosts, each attempt on the timeline
    error = next(s for s in trace["spans"] if s["name"] == "ERROR")
    assert error["error"] == failed.fault["message"]


def test_boot_to_a_new_volume_shows_the_volume_steps(
    demo: openstack.connection.Connection, cirros: Any
) -> None:
    server = demo.compute.create_server(
        name=f"bfv-{time.monotonic_ns()}",
        flavor_id="1",
        networks="none",
        block_device_mapping=[
            {
                "boot_index": 0,
                "uuid": cirros.id,
                "source_type": "image",
                "destination_type": "volume",
                "volume_size": 1,
                "delete_on_termination": True,
            }
        ],
    )
    active = wait_for(demo, server.id, "ACTIVE", timeout=60)
    trace = settled(demo, server.id)
    steps.in_order(trace, "compute agent", "volumes attached", "ACTIVE")
    names = steps.names(trace)
    # the volume service's own steps, reached over REST, are in the same trace
    assert {"quota reserved", "volume agent", "image copied to the volume", "available"} <= set(
        names
    )
    volume_id = active.attached_volumes[0]["id"]
    volume_trace = steps.wait_trace(
        demo.block_storage, f"/volumes/{volume_id}/trace", steps.has("available")
    )
    assert volume_trace["id"] == trace["id"]
    demo.compute.delete_server(server)
