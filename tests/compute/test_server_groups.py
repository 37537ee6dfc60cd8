"""Server groups: the API (CLI, SDK, microversions, bad input, isolation, quotas) and the
scheduler keeping each policy on the three fake hosts."""

from __future__ import annotations

import uuid
from typing import Any

from tests.compute.conftest import boot, wait_for
from tests.compute.nova_http import call, fault
from tests.helpers.isolation import assert_hidden
from tests.helpers.server import Server


def _group(conn: Any, policy: str, **extra: Any) -> dict[str, Any]:
    body = {"server_group": {"name": f"g-{uuid.uuid4().hex[:6]}", "policy": policy, **extra}}
    response = call(conn, "POST", "/os-server-groups", "2.64", body)
    assert response.status_code == 200, response.text
    return response.json()["server_group"]


def _boot_group(conn: Any, image: Any, group_id: str, count: int) -> list[str]:
    """Boot `count` servers in one request; their ids, once each is ACTIVE or ERROR."""
    boot(conn, image, min_count=count, max_count=count, scheduler_hints={"group": group_id})
    members = call(conn, "GET", f"/os-server-groups/{group_id}").json()["server_group"]["members"]
    for sid in members:
        wait_for(conn, sid, "ACTIVE", "ERROR")
    return members


def _hosts(admin: Any, ids: list[str]) -> list[str]:
    return [admin.compute.get_server(i).compute_host for i in ids]


def test_cli_server_group_create_list_delete(server: Server, admin: Any) -> None:
    name = f"g-{uuid.uuid4().hex[:6]}"
    made = server.cli_json("server", "group", "create", "--policy", "anti-affinity", name)
    assert made["policy"] == "anti-affinity" and made["members"] == [] and made["rules"] == {}
    assert any(g["ID"] == made["id"] for g in server.cli_json("server", "group", "list"))
    server.cli("server", "group", "delete", name)
    fault(call(admin, "GET", f"/os-server-groups/{made['id']}"), 404)


def test_views_by_microversion_and_bad_input(admin: Any) -> None:
    old = call(
        admin,
        "POST",
        "/os-server-groups",
        "2.1",
        {"server_group": {"name": "old", "policies": ["affinity"]}},
    ).json()["server_group"]
    assert old["policies"] == ["affinity"] and old["metadata"] == {} and "project_id" not in old
    shown = call(admin, "GET", f"/os-server-groups/{old['id']}", "2.64").json()["server_group"]
    assert shown["policy"] == "affinity" and shown["rules"] == {} and shown["project_id"]
    ruled = _group(admin, "anti-affinity", rules={"max_server_per_host": 2})
    assert ruled["rules"] == {"max_server_per_host": 2}
    for version, body, needle in [
        ("2.64", {}, "'server_group' is a required property"),
        ("2.64", {"server_group": {"policy": "affinity"}}, "'name' is a required property"),
        ("2.64", {"server_group": {"name": "x", "policy": "sticky"}}, "is not one of"),
        (
            "2.64",
            {"server_group": {"name": "x", "policies": ["affinity"]}},
            "Additional properties",
        ),
        (
            "2.64",
            {
                "server_group": {
                    "name": "x",
                    "policy": "affinity",
                    "rules": {"max_server_per_host": 2},
                }
            },
            "Only anti-affinity",
        ),
        (
            "2.64",
            {
                "server_group": {
                    "name": "x",
                    "policy": "anti-affinity",
                    "rules": {"max_server_per_host": 0},
                }
            },
            "max_server_per_host",
        ),
        ("2.64", {"server_group": {"name": 3, "policy": "affinity"}}, "not of type 'string'"),
        ("2.14", {"server_group": {"name": "x", "policies": ["soft-affinity"]}}, "is not one of"),
        (
            "2.15",
            {"server_group": {"name": "x", "policies": ["affinity", "anti-affinity"]}},
            "exactly one",
        ),
    ]:
        fault(call(admin, "POST", "/os-server-groups", version, body), 400, needle)
    missing = str(uuid.uuid4())
    fault(call(admin, "GET", f"/os-server-groups/{missing}"), 404, f"Instance group {missing}")
    fault(call(admin, "DELETE", f"/os-server-groups/{missing}"), 404)
    for gid in (old["id"], ruled["id"]):
        assert call(admin, "DELETE", f"/os-server-groups/{gid}").status_code == 204


def test_groups_are_per_project_and_counted(tenant_factory: Any, admin: Any, cirros: Any) -> None:
    a, b = tenant_factory(), tenant_factory()
    group = _group(a.conn, "affinity")
    assert_hidden(
        lambda: b.conn.compute.get_server_group(group["id"]),
        lambda: b.conn.compute.delete_server_group(group["id"], ignore_missing=False),
    )
    assert [g.id for g in b.conn.compute.server_groups()] == []
    everyone = call(admin, "GET", "/os-server-groups?all_projects=True").json()["server_groups"]
    assert group["id"] in {g["id"] for g in everyone}
    mine = call(admin, "GET", "/os-server-groups").json()["server_groups"]
    assert group["id"] not in {g["id"] for g in mine}
    # b may not boot into a's group.
    response = call(
        b.conn,
        "POST",
        "/servers",
        "2.64",
        {
            "server": {"name": "x", "imageRef": cirros.id, "flavorRef": "1", "networks": "none"},
            "os:scheduler_hints": {"group": group["id"]},
        },
    )
    fault(response, 400, group["id"])

    admin.compute.update_quota_set(a.project_id, server_groups=1, server_group_members=2)
    fault(
        call(
            a.conn,
            "POST",
            "/os-server-groups",
            "2.64",
            {"server_group": {"name": "second", "policy": "affinity"}},
        ),
        403,
        "Quota exceeded, too many server groups.",
    )
    response = call(
        a.conn,
        "POST",
        "/servers",
        "2.64",
        {
            "server": {
                "name": "x",
                "imageRef": cirros.id,
                "flavorRef": "1",
                "networks": "none",
                "min_count": 3,
            },
            "os:scheduler_hints": {"group": group["id"]},
        },
    )
    fault(response, 403, "Quota exceeded, too many servers in group")
    assert list(a.conn.compute.servers()) == []


def test_affinity_and_anti_affinity_are_enforced(
    tenant_factory: Any, admin: Any, cirros: Any
) -> None:
    t = tenant_factory()
    anti = _group(t.conn, "anti-affinity")
    members = _boot_group(t.conn, cirros, anti["id"], 3)
    assert len(set(_hosts(admin, members))) == 3
    extra = boot(t.conn, cirros, scheduler_hints={"group": anti["id"]})
    failed = wait_for(t.conn, extra.id, "ERROR")
    assert "No valid host" in failed.fault["message"]

    together = _group(t.conn, "affinity")
    assert len(set(_hosts(admin, _boot_group(t.conn, cirros, together["id"], 2)))) == 1


def test_soft_policies_weigh_hosts(tenant_factory: Any, admin: Any, cirros: Any) -> None:
    t = tenant_factory()
    spread = _group(t.conn, "soft-anti-affinity")
    hosts = _hosts(admin, _boot_group(t.conn, cirros, spread["id"], 4))
    assert len(set(hosts)) == 3  # four servers on three hosts: never refused, still spread
    packed = _group(t.conn, "soft-affinity")
    assert len(set(_hosts(admin, _boot_group(t.conn, cirros, packed["id"], 2)))) == 1
