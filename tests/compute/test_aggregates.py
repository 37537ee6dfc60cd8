"""Host aggregates and availability zones: the CLI and SDK, Nova's rules and errors, and the
scheduler honouring zones and aggregate metadata. Every test leaves the hosts as it found them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.compute.conftest import boot, wait_for
from tests.compute.nova_http import call, fault
from tests.helpers.server import Server


@pytest.fixture
def names(admin: Any) -> Iterator[list[str]]:
    """Aggregates to remove (hosts first) after the test."""
    made: list[str] = []
    yield made
    for name in made:
        agg = admin.compute.find_aggregate(name)
        if agg is None:
            continue
        for host in agg.hosts or []:
            admin.compute.remove_host_from_aggregate(agg, host)
        admin.compute.delete_aggregate(agg)


def test_cli_aggregate_with_zone_hosts_and_properties(
    server: Server, admin: Any, demo: Any, names: list[str]
) -> None:
    name = f"agg-{uuid.uuid4().hex[:6]}"
    names.append(name)
    made = server.cli_json(
        "aggregate", "create", "--zone", "az-cli", "--property", "ssd=true", name
    )
    assert made["availability_zone"] == "az-cli" and made["properties"]["ssd"] == "true"
    added = server.cli_json("aggregate", "add", "host", name, "compute1")
    assert added["hosts"] == ["compute1"]
    server.cli("aggregate", "set", "--property", "speed=fast", name)
    shown = server.cli_json("aggregate", "show", name)
    assert shown["properties"] == {"ssd": "true", "speed": "fast"} and shown["uuid"]
    zones = call(admin, "GET", "/os-availability-zone/detail").json()["availabilityZoneInfo"]
    zone = next(z for z in zones if z["zoneName"] == "az-cli")
    assert list(zone["hosts"]) == ["compute1"] and zone["zoneState"] == {"available": True}
    services = call(admin, "GET", "/os-services?binary=nova-compute").json()["services"]
    assert {s["host"]: s["zone"] for s in services}["compute1"] == "az-cli"
    public = call(demo, "GET", "/os-availability-zone").json()["availabilityZoneInfo"]
    assert {"zoneName": "az-cli", "zoneState": {"available": True}, "hosts": None} in public


def test_rules_and_errors(admin: Any, demo: Any, names: list[str]) -> None:
    a, b = f"agg-{uuid.uuid4().hex[:6]}", f"agg-{uuid.uuid4().hex[:6]}"
    names.extend([a, b])
    first = admin.compute.create_aggregate(name=a, availability_zone="az-a")
    second = admin.compute.create_aggregate(name=b, availability_zone="az-b")
    admin.compute.add_host_to_aggregate(first, "compute2")
    base = f"/os-aggregates/{first.id}"
    fault(
        call(admin, "POST", "/os-aggregates", body={"aggregate": {"name": a}}),
        409,
        "already exists",
    )
    fault(
        call(
            admin,
            "POST",
            f"/os-aggregates/{second.id}/action",
            body={"add_host": {"host": "compute2"}},
        ),
        409,
        "availability zone",
    )
    fault(
        call(admin, "POST", f"{base}/action", body={"add_host": {"host": "compute2"}}),
        409,
        "already has host",
    )
    fault(
        call(admin, "POST", f"{base}/action", body={"add_host": {"host": "nohost"}}),
        404,
        "Compute host nohost could not be found.",
    )
    fault(
        call(admin, "POST", f"{base}/action", body={"remove_host": {"host": "compute3"}}),
        404,
        "has no host compute3",
    )
    fault(call(admin, "DELETE", base), 400, "not empty")
    fault(call(admin, "GET", "/os-aggregates/99999"), 404, "Aggregate 99999 could not be found.")
    fault(call(admin, "GET", "/os-aggregates/abc"), 400, "id must be an integer")
    for body, needle in [
        ({}, "'aggregate' is a required property"),
        ({"aggregate": {"name": ""}}, "too short"),
        ({"aggregate": {"name": "x", "availability_zone": "a:b"}}, "does not match"),
        ({"aggregate": {"name": "x", "availability_zone": "internal"}}, "reserved"),
        ({"aggregate": {"name": "x", "hosts": []}}, "Additional properties"),
    ]:
        fault(call(admin, "POST", "/os-aggregates", body=body), 400, needle)
    fault(call(admin, "POST", f"{base}/action", body={"set_metadata": {"metadata": "x"}}), 400)
    fault(call(admin, "POST", f"{base}/action", body={"explode": {}}), 400)
    fault(call(admin, "PUT", base, body={"aggregate": {}}), 400)
    fault(call(demo, "GET", "/os-aggregates"), 403)
    fault(call(demo, "POST", "/os-aggregates", body={"aggregate": {"name": "mine"}}), 403)
    assert (
        admin.compute.find_aggregate("x") is None and admin.compute.find_aggregate("mine") is None
    )
    # Metadata: merged, a null removes a key; the zone moves with `availability_zone`.
    done = call(
        admin,
        "POST",
        f"{base}/action",
        body={"set_metadata": {"metadata": {"k": "v", "availability_zone": "az-a2"}}},
    )
    assert done.json()["aggregate"]["metadata"] == {"k": "v", "availability_zone": "az-a2"}
    done = call(admin, "POST", f"{base}/action", body={"set_metadata": {"metadata": {"k": None}}})
    assert done.json()["aggregate"]["metadata"] == {"availability_zone": "az-a2"}
    old = call(admin, "GET", base, "2.40").json()["aggregate"]
    assert "uuid" not in old and old["hosts"] == ["compute2"]


def test_scheduler_honours_zones_and_metadata(
    admin: Any, tenant_factory: Any, cirros: Any, names: list[str]
) -> None:
    name = f"agg-{uuid.uuid4().hex[:6]}"
    names.append(name)
    agg = admin.compute.create_aggregate(name=name, availability_zone="az-sched")
    admin.compute.add_host_to_aggregate(agg, "compute3")
    admin.compute.set_aggregate_metadata(agg, {"gpu": "yes"})
    t = tenant_factory()
    zoned = boot(t.conn, cirros, availability_zone="az-sched")
    assert (
        admin.compute.get_server(wait_for(t.conn, zoned.id, "ACTIVE").id).compute_host == "compute3"
    )
    assert t.conn.compute.get_server(zoned.id).availability_zone == "az-sched"

    flavor = admin.compute.create_flavor(
        name=f"gpu-{uuid.uuid4().hex[:6]}", ram=64, vcpus=1, disk=1
    )
    try:
        admin.compute.create_flavor_extra_specs(
            flavor, {"aggregate_instance_extra_specs:gpu": "yes"}
        )
        for _ in range(2):
            server = boot(t.conn, cirros, flavor=flavor.id)
            wait_for(t.conn, server.id, "ACTIVE")
            assert admin.compute.get_server(server.id).compute_host == "compute3"
    finally:
        admin.compute.delete_flavor(flavor)
    for server in t.conn.compute.servers():
        t.conn.compute.delete_server(server)


def test_unknown_or_disabled_zone_is_refused_before_anything_is_written(
    admin: Any, tenant_factory: Any, cirros: Any, names: list[str]
) -> None:
    name = f"agg-{uuid.uuid4().hex[:6]}"
    names.append(name)
    agg = admin.compute.create_aggregate(name=name, availability_zone="az-off")
    admin.compute.add_host_to_aggregate(agg, "compute3")
    t = tenant_factory()
    body = {"name": "z", "imageRef": cirros.id, "flavorRef": "1", "networks": "none"}
    refused = {
        "badRequest": {"code": 400, "message": "The requested availability zone is not available"}
    }
    response = call(
        t.conn, "POST", "/servers", body={"server": {**body, "availability_zone": "nowhere"}}
    )
    assert response.status_code == 400 and response.json() == refused
    admin.compute.disable_service(None, host="compute3", binary="nova-compute")
    try:
        response = call(
            t.conn, "POST", "/servers", body={"server": {**body, "availability_zone": "az-off"}}
        )
        assert response.status_code == 400 and response.json() == refused
    finally:
        admin.compute.enable_service(None, host="compute3", binary="nova-compute")
    assert list(t.conn.compute.servers()) == []
    limits = t.conn.compute.get_limits().absolute
    assert (limits.instances_used, limits.total_cores_used, limits.total_ram_used) == (0, 0, 0)


def test_unzoned_server_shows_its_hosts_zone(
    server: Server, admin: Any, tenant_factory: Any, cirros: Any, names: list[str]
) -> None:
    t = tenant_factory()
    first = wait_for(t.conn, boot(t.conn, cirros).id, "ACTIVE")
    assert first.availability_zone == "nova"  # a host in no zoned aggregate: the default zone
    name = f"agg-{uuid.uuid4().hex[:6]}"
    names.append(name)
    agg = admin.compute.create_aggregate(name=name, availability_zone="az-landed")
    for host in ("compute1", "compute2", "compute3"):
        admin.compute.add_host_to_aggregate(agg, host)
    vm = boot(t.conn, cirros)
    assert wait_for(t.conn, vm.id, "ACTIVE").availability_zone == "az-landed"
    shown = server.cli_json("server", "show", vm.id)
    assert shown["OS-EXT-AZ:availability_zone"] == "az-landed"
    for made in (first, vm):
        t.conn.compute.delete_server(made)
