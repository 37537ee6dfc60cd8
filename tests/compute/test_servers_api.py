"""The compute API through openstacksdk and raw HTTP: boots, views by microversion, bad input,
cross-project isolation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import openstack.exceptions as osexc
import pytest

from tests.compute.conftest import boot, wait_for, wait_gone
from tests.helpers.isolation import assert_hidden
from tests.helpers.server import Server


def _http(
    conn: Any, method: str, path: str, version: str | None = "2.96", **kw: Any
) -> httpx.Response:
    endpoint = conn.compute.get_endpoint().rstrip("/")
    headers = {"X-Auth-Token": conn.auth_token, **kw.pop("headers", {})}
    if version:
        headers["OpenStack-API-Version"] = f"compute {version}"
    return httpx.request(method, endpoint + path, headers=headers, timeout=10, **kw)


def test_sdk_boot_and_delete(demo: Any, cirros: Any) -> None:
    created = boot(demo, cirros, metadata={"k": "v"}, tags=["a", "b"])
    server = demo.compute.wait_for_server(created, wait=20, interval=0.05)
    assert server.status == "ACTIVE" and server.metadata == {"k": "v"}
    assert sorted(server.tags) == ["a", "b"] and server.flavor["vcpus"] == 1
    assert server.id in {s.id for s in demo.compute.servers(status="ACTIVE")}
    demo.compute.stop_server(server)
    wait_for(demo, server.id, "SHUTOFF")
    demo.compute.start_server(server)
    wait_for(demo, server.id, "ACTIVE")
    demo.compute.set_server_metadata(server, extra="1")
    assert demo.compute.get_server_metadata(server).metadata == {"k": "v", "extra": "1"}
    actions = list(demo.compute.server_actions(server))
    assert [a.action for a in actions][-1] == "create"
    demo.compute.delete_server(server)
    wait_gone(demo, server.id)


def test_microversion_negotiation_and_views(demo: Any, cirros: Any) -> None:
    server = demo.compute.wait_for_server(boot(demo, cirros), wait=20, interval=0.05)
    old = _http(demo, "GET", f"/servers/{server.id}", version=None)
    assert old.headers["openstack-api-version"] == "compute 2.1"
    assert set(old.json()["server"]["flavor"]) == {"id", "links"}
    assert "locked" not in old.json()["server"]
    new = _http(demo, "GET", f"/servers/{server.id}", version="2.96").json()["server"]
    assert new["flavor"]["original_name"] == "m1.tiny" and new["locked"] is False
    assert "pinned_availability_zone" in new and new["tags"] == []
    legacy = _http(
        demo, "GET", "/servers", version=None, headers={"X-OpenStack-Nova-API-Version": "2.30"}
    )
    assert legacy.headers["x-openstack-nova-api-version"] == "2.30"
    too_new = _http(demo, "GET", "/servers", version="2.200")
    assert too_new.status_code == 406 and "notAcceptable" in too_new.json()
    latest = _http(demo, "GET", "/servers", version="latest")
    assert latest.headers["openstack-api-version"] == "compute 2.96"
    demo.compute.delete_server(server)


def test_bad_boots_are_4xx_and_leave_nothing(demo: Any, cirros: Any, admin: Any) -> None:
    before = {s.id for s in demo.compute.servers()}
    cases = [
        ({"name": "x", "imageRef": str(uuid.uuid4()), "flavorRef": "1", "networks": "none"}, 400),
        ({"name": "x", "imageRef": cirros.id, "flavorRef": "nope", "networks": "none"}, 400),
        ({"name": "x", "imageRef": cirros.id, "flavorRef": "1"}, 400),  # networks required
        (
            {
                "name": "x",
                "imageRef": cirros.id,
                "flavorRef": "1",
                "networks": "none",
                "key_name": "someone-elses",
            },
            400,
        ),
        ({"name": "x", "imageRef": "not-a-uuid", "flavorRef": "1", "networks": "none"}, 400),
        ({"name": "", "imageRef": cirros.id, "flavorRef": "1", "networks": "none"}, 400),
        (
            {
                "name": "x",
                "imageRef": cirros.id,
                "flavorRef": "1",
                "networks": "none",
                "min_count": 1000,
            },
            403,
        ),
        (
            {"name": "x", "imageRef": cirros.id, "flavorRef": "1", "networks": "none", "bogus": 1},
            400,
        ),
    ]
    for body, status in cases:
        response = _http(demo, "POST", "/servers", json={"server": body})
        assert response.status_code == status, (body, response.text)
        assert list(response.json())[0] in ("badRequest", "forbidden")
    big = admin.image.create_image(
        name="big",
        data=b"x",
        disk_format="raw",
        container_format="bare",
        visibility="public",
        min_disk=50,
    )
    response = _http(
        demo,
        "POST",
        "/servers",
        json={"server": {"name": "x", "imageRef": big.id, "flavorRef": "1", "networks": "none"}},
    )
    assert response.status_code == 400 and "too small" in response.text
    admin.image.delete_image(big)
    for raw in (b"{not json", b"[]", b""):
        response = _http(
            demo, "POST", "/servers", content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400
    assert {s.id for s in demo.compute.servers()} <= before  # nothing new


def test_failed_build_goes_to_error_with_fault(demo: Any, cirros: Any) -> None:
    created = boot(demo, cirros, metadata={"fake:fail_spawn": "true"})
    server = wait_for(demo, created.id, "ERROR")
    assert "Exceeded maximum number of retries" in server.fault["message"]
    request_id = list(demo.compute.server_actions(server))[0].request_id
    action = demo.compute.get_server_action(request_id, server)
    assert any(e["result"] == "Error" for e in action.events)
    demo.compute.delete_server(server)
    wait_gone(demo, server.id)


def test_projects_see_only_their_servers(
    server: Server, admin: Any, cirros: Any, tenant_factory: Any
) -> None:
    a, b = tenant_factory(), tenant_factory()
    vm = a.conn.compute.wait_for_server(boot(a.conn, cirros), wait=20, interval=0.05)
    assert vm.id not in {s.id for s in b.conn.compute.servers()}
    assert_hidden(
        lambda: b.conn.compute.get_server(vm.id),
        lambda: b.conn.compute.stop_server(vm.id),
        lambda: b.conn.compute.delete_server(vm.id),
        lambda: b.conn.compute.get_server_metadata(vm.id),
        lambda: list(b.conn.compute.server_actions(vm.id)),
    )
    with pytest.raises(osexc.ForbiddenException):
        list(b.conn.compute.servers(all_projects=True))
    assert vm.id in {s.id for s in admin.compute.servers(all_projects=True)}
    assert vm.id not in {s.id for s in admin.compute.servers()}
    assert wait_for(a.conn, vm.id, "ACTIVE").status == "ACTIVE"
    a.conn.compute.delete_server(vm)
