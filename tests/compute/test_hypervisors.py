"""os-hypervisors through `openstack hypervisor list/show` and microversioned calls: UUID ids
from 2.53, counters and statistics only before 2.88, admins only."""

from __future__ import annotations

import uuid
from typing import Any

from tests.compute.nova_http import call, fault
from tests.helpers.server import Server


def test_cli_hypervisor_list_and_show(server: Server) -> None:
    listed = server.cli_json("hypervisor", "list")
    names = sorted(h["Hypervisor Hostname"] for h in listed)
    assert names == ["compute1", "compute2", "compute3"]
    assert all(h["State"] == "up" and h["Hypervisor Type"] == "fake" for h in listed)
    uuid.UUID(listed[0]["ID"])
    shown = server.cli_json("hypervisor", "show", "compute2")
    assert shown["hypervisor_hostname"] == "compute2" and shown["service_host"] == "compute2"


def test_microversions(admin: Any) -> None:
    new = call(admin, "GET", "/os-hypervisors/detail").json()["hypervisors"]
    assert "vcpus" not in new[0] and "uptime" in new[0] and isinstance(new[0]["cpu_info"], dict)
    old = call(admin, "GET", "/os-hypervisors/detail", "2.27").json()["hypervisors"]
    assert isinstance(old[0]["id"], int) and isinstance(old[0]["cpu_info"], str)
    assert old[0]["vcpus"] > 0 and "free_ram_mb" in old[0]
    stats = call(admin, "GET", "/os-hypervisors/statistics", "2.87").json()
    assert stats["hypervisor_statistics"]["count"] == 3
    fault(call(admin, "GET", "/os-hypervisors/statistics"), 404)
    one = new[0]["id"]
    body = call(admin, "GET", f"/os-hypervisors/{one}?with_servers=true").json()["hypervisor"]
    assert body["id"] == one and isinstance(body["servers"], list)
    page = call(admin, "GET", "/os-hypervisors?limit=1").json()
    assert len(page["hypervisors"]) == 1 and "marker=" in page["hypervisors_links"][0]["href"]
    pattern = call(admin, "GET", "/os-hypervisors?hypervisor_hostname_pattern=compute3").json()
    assert [h["hypervisor_hostname"] for h in pattern["hypervisors"]] == ["compute3"]
    search = call(admin, "GET", "/os-hypervisors/compute1/search", "2.52").json()["hypervisors"]
    assert [h["hypervisor_hostname"] for h in search] == ["compute1"]
    uptime = call(admin, "GET", f"/os-hypervisors/{old[0]['id']}/uptime", "2.27").json()
    assert "uptime" in uptime["hypervisor"]


def test_errors_and_policy(admin: Any, demo: Any) -> None:
    fault(call(admin, "GET", f"/os-hypervisors/{uuid.uuid4()}"), 404, "could not be found")
    fault(call(admin, "GET", "/os-hypervisors/12"), 400, "Invalid uuid 12")
    fault(call(admin, "GET", "/os-hypervisors/999", "2.52"), 404)
    fault(call(admin, "GET", "/os-hypervisors?hypervisor_hostname_pattern=zzz"), 404, "zzz")
    fault(call(admin, "GET", "/os-hypervisors?marker=nope"), 400, "marker [nope] not found")
    fault(call(admin, "GET", "/os-hypervisors?with_servers=maybe"), 400)
    for path in ("/os-hypervisors", "/os-hypervisors/detail"):
        fault(call(demo, "GET", path), 403)
