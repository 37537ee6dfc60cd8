"""The network API's shape: version document, resource index, extensions, the Neutron error
dialect, and list semantics (fields, filters, sorting, paging, tags, If-Match)."""

from __future__ import annotations

from typing import Any

import httpx
import openstack
import openstack.exceptions as osexc
import pytest

from tests.helpers.isolation import Tenant
from tests.helpers.server import Server
from tests.network import raw
from tests.network.conftest import name


def test_version_document_and_catalog(
    server: Server, admin: openstack.connection.Connection
) -> None:
    root = raw.endpoint(admin)
    assert root == server.url + "/network"
    answer = httpx.get(root + "/")  # version discovery needs no token
    assert answer.status_code == 200
    (version,) = answer.json()["versions"]
    assert version["id"] == "v2.0" and version["status"] == "CURRENT"
    assert version["links"][0]["href"] == root + "/v2.0/"
    index = raw.call(admin, "GET", "/v2.0/").json()["resources"]
    assert {"networks", "subnets", "ports", "routers", "floatingips"} <= {
        r["collection"] for r in index
    }


def test_extensions_list_what_is_implemented(admin: openstack.connection.Connection) -> None:
    aliases = {e.alias for e in admin.network.extensions()}
    for alias in (
        "router",
        "external-net",
        "security-group",
        "quotas",
        "agent",
        "binding",
        "provider",
        "multi-provider",
        "rbac-policies",
        "standard-attr-tag",
        "revision-if-match",
        "auto-allocated-topology",
        "floating-ip-port-forwarding",
        "network-ip-availability",
        "pagination",
        "sorting",
    ):
        assert alias in aliases
    for absent in (
        "qos",
        "trunk",
        "segment",
        "address-group",
        "bgp",
        "l3-flavors",
        "port-mac-address-regenerate",
    ):
        assert absent not in aliases
    assert admin.network.find_extension("router").alias == "router"
    raw.assert_error(raw.call(admin, "GET", "/v2.0/extensions/no-such"), 404)


def test_errors_are_neutron_errors(tenant: Tenant) -> None:
    conn = tenant.conn
    raw.assert_error(
        raw.call(conn, "GET", "/v2.0/networks/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12),
        404,
        "NetworkNotFound",
    )
    raw.assert_error(raw.call(conn, "GET", "/v2.0/no-such-things"), 404)
    raw.assert_error(raw.call(conn, "POST", "/v2.0/networks", content=b"{not json"), 400)
    raw.assert_error(raw.call(conn, "POST", "/v2.0/networks", json={"net": {}}), 400)
    raw.assert_error(raw.call(conn, "POST", "/v2.0/networks", json={"network": {"bogus": 1}}), 400)
    raw.assert_error(
        raw.call(conn, "POST", "/v2.0/networks", json={"network": {"admin_state_up": "maybe"}}), 400
    )
    raw.assert_error(raw.call(conn, "GET", "/v2.0/networks", params={"bogus": "x"}), 400)
    raw.assert_error(raw.call(conn, "GET", "/v2.0/networks", params={"sort_key": "bogus"}), 400)
    raw.assert_error(raw.call(conn, "GET", "/v2.0/networks", params={"limit": "x"}), 400)
    answer = httpx.get(raw.endpoint(conn) + "/v2.0/networks")
    raw.assert_error(answer, 401)
    assert [n for n in conn.network.networks() if n.project_id == tenant.project_id] == []


def test_fields_filters_sorting_and_paging(tenant: Tenant) -> None:
    conn = tenant.conn
    tag = name("t")
    made = [
        conn.network.create_network(name=f"{tag}-{i}", description=f"d{i % 2}") for i in range(5)
    ]
    conn.network.set_tags(made[0], [tag, "first"])
    ids = sorted(n.id for n in made)
    listed = raw.call(
        conn,
        "GET",
        "/v2.0/networks",
        params={
            "fields": ["id", "name"],
            "sort_key": "id",
            "sort_dir": "asc",
            "project_id": tenant.project_id,
        },
    ).json()
    assert [n["id"] for n in listed["networks"]] == ids
    assert all(set(n) == {"id", "name"} for n in listed["networks"])
    assert {n.id for n in conn.network.networks(description="d1")} == {made[1].id, made[3].id}
    assert {n.id for n in conn.network.networks(name=[made[0].name, made[2].name])} == {
        made[0].id,
        made[2].id,
    }
    assert [n.id for n in conn.network.networks(tags=[tag, "first"])] == [made[0].id]
    assert made[0].id not in {n.id for n in conn.network.networks(not_tags=[tag])}
    first = raw.call(
        conn,
        "GET",
        "/v2.0/networks",
        params={"limit": 2, "sort_key": "id", "project_id": tenant.project_id},
    ).json()
    assert [n["id"] for n in first["networks"]] == ids[:2]
    (nxt,) = [link["href"] for link in first["networks_links"] if link["rel"] == "next"]
    second = httpx.get(nxt, headers={"X-Auth-Token": conn.auth_token}).json()
    assert [n["id"] for n in second["networks"]] == ids[2:4]
    # openstacksdk follows the links itself
    assert sorted(n.id for n in conn.network.networks(limit=2, project_id=tenant.project_id)) == ids
    down = [
        n.id
        for n in conn.network.networks(
            sort_key="name", sort_dir="desc", project_id=tenant.project_id
        )
    ]
    assert down == [n.id for n in sorted(made, key=lambda n: n.name, reverse=True)]


def test_tags_and_revision_if_match(tenant: Tenant) -> None:
    conn = tenant.conn
    net = conn.network.create_network(name=name("net"), tags=["a"])
    assert net.tags == ["a"]
    conn.network.add_tag(net, "b")
    assert sorted(conn.network.get_network(net.id).tags) == ["a", "b"]
    conn.network.remove_tag(net, "a")
    with pytest.raises(osexc.NotFoundException):
        conn.network.remove_tag(net, "zzz")
    now = conn.network.get_network(net.id)
    assert now.tags == ["b"] and now.revision_number > net.revision_number
    stale = raw.call(
        conn,
        "PUT",
        f"/v2.0/networks/{net.id}",
        json={"network": {"name": "x"}},
        headers={"If-Match": f"revision_number={net.revision_number}"},
    )
    raw.assert_error(stale, 412, "RevisionNumberConstraintFailed")
    assert conn.network.get_network(net.id).name == net.name
    fresh = raw.call(
        conn,
        "PUT",
        f"/v2.0/networks/{net.id}",
        json={"network": {"name": "x"}},
        headers={"If-Match": f"revision_number={now.revision_number}"},
    )
    assert fresh.status_code == 200 and fresh.json()["network"]["name"] == "x"
    body: dict[str, Any] = fresh.json()["network"]
    for key in (
        "created_at",
        "updated_at",
        "revision_number",
        "description",
        "tags",
        "project_id",
        "tenant_id",
    ):
        assert key in body
