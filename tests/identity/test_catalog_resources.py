"""Regions, services and endpoints through the openstack CLI, openstacksdk and raw calls."""

from __future__ import annotations

import uuid

import openstack.exceptions as osexc
import pytest

from tests.helpers.server import Server
from tests.identity import raw


def test_cli_lists_the_bootstrap_catalog(server: Server) -> None:
    services = server.cli_json("service", "list")
    assert {"Name": "keystone", "Type": "identity"} in [
        {"Name": s["Name"], "Type": s["Type"]} for s in services
    ]
    endpoints = server.cli_json("endpoint", "list", "--service", "identity")
    assert {e["Interface"] for e in endpoints} == {"public", "internal", "admin"}
    assert all(e["URL"] == server.url + "/v3" for e in endpoints)
    catalog = server.cli_json("catalog", "list")
    assert [c["Type"] for c in catalog if c["Name"] == "keystone"] == ["identity"]


def test_cli_region_tree(server: Server) -> None:
    parent, child = f"r-{uuid.uuid4().hex[:6]}", f"r-{uuid.uuid4().hex[:6]}"
    made = server.cli_json("region", "create", parent, "--description", "top")
    assert made["region"] == parent
    server.cli_json("region", "create", child, "--parent-region", parent)
    below = server.cli_json("region", "list", "--parent-region", parent)
    assert [r["Region"] for r in below] == [child]
    shown = server.cli_json("region", "show", child)
    assert shown["parent_region"] == parent
    # A region cannot be its own ancestor; an unknown parent is 404.
    admin = raw.token(server)
    loop = raw.call(
        server,
        "PATCH",
        f"/v3/regions/{parent}",
        admin,
        json={"region": {"parent_region_id": child}},
    )
    assert loop.status_code == 400
    orphan = raw.call(
        server, "POST", "/v3/regions", admin, json={"region": {"parent_region_id": "nowhere"}}
    )
    assert orphan.status_code == 404
    dup = raw.call(server, "POST", "/v3/regions", admin, json={"region": {"id": parent}})
    assert dup.status_code == 409
    server.cli("region", "delete", parent)  # takes its child regions with it
    assert server.cli_json("region", "list", "--parent-region", parent) == []


def test_services_and_endpoints_with_filters(server: Server, admin) -> None:
    kind = f"t{uuid.uuid4().hex[:6]}"
    service = admin.identity.create_service(type=kind, name=f"{kind}-svc", description="d")
    try:
        region = admin.identity.create_region(id=f"r-{kind}")
        made = {
            iface: admin.identity.create_endpoint(
                service_id=service.id,
                interface=iface,
                url=f"http://{kind}.example:1/{iface}",
                region_id=region.id if iface == "public" else "RegionOne",
            )
            for iface in ("public", "internal")
        }
        found = list(admin.identity.endpoints(service_id=service.id))
        assert {e.id for e in found} == {e.id for e in made.values()}
        public = list(admin.identity.endpoints(service_id=service.id, interface="public"))
        assert [e.id for e in public] == [made["public"].id]
        in_region = list(admin.identity.endpoints(region_id=region.id))
        assert [e.id for e in in_region] == [made["public"].id]
        # The catalog follows at once, and disabled endpoints leave it.
        admin.identity.update_endpoint(made["internal"], is_enabled=False)
        token = raw.token(server)
        catalog = raw.call(server, "GET", "/v3/auth/catalog", token).json()["catalog"]
        entry = next(c for c in catalog if c["type"] == kind)
        assert [e["interface"] for e in entry["endpoints"]] == ["public"]
        assert entry["endpoints"][0]["region_id"] == region.id
        # A region with endpoints cannot be deleted.
        with pytest.raises(osexc.ForbiddenException):
            admin.identity.delete_region(region)
        assert [s.id for s in admin.identity.services(type=kind)] == [service.id]
    finally:
        admin.identity.delete_service(service)
    assert list(admin.identity.endpoints(service_id=service.id)) == []
    catalog = raw.call(server, "GET", "/v3/auth/catalog", raw.token(server)).json()["catalog"]
    assert kind not in {c["type"] for c in catalog}
    admin.identity.delete_region(f"r-{kind}")


def test_endpoint_refs_checked(server: Server) -> None:
    admin = raw.token(server)
    service_id = server.cli_json("service", "show", "identity")["id"]
    bad = [
        {"service_id": "nope", "interface": "public", "url": "http://x/"},
        {"service_id": service_id, "interface": "public", "url": "http://x/", "region_id": "no"},
        {"service_id": service_id, "interface": "sideways", "url": "http://x/"},
        {"service_id": service_id, "interface": "public", "url": "not a url"},
        {"service_id": service_id, "interface": "public"},
    ]
    for body in bad:
        r = raw.call(server, "POST", "/v3/endpoints", admin, json={"endpoint": body})
        assert r.status_code == 400, (body, r.text)
    assert len(server.cli_json("endpoint", "list", "--service", "identity")) == 3


def test_members_cannot_change_or_list_the_catalog(server: Server) -> None:
    demo = raw.token(server, "demo", "demo")
    for method, path, body in (
        ("POST", "/v3/services", {"service": {"type": "x"}}),
        ("GET", "/v3/services", None),
        ("GET", "/v3/endpoints", None),
        ("POST", "/v3/regions", {"region": {}}),
    ):
        r = raw.call(server, method, path, demo, json=body)
        assert r.status_code == 403, (method, path, r.text)
    assert raw.call(server, "GET", "/v3/regions", demo).status_code == 200
