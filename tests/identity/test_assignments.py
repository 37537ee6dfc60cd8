"""Grants on projects, domains and the system for users and groups, OS-INHERIT grants, and
`GET /v3/role_assignments` with its filters, `effective`, `include_names`, `include_subtree`;
removing a grant ends the role in existing tokens at once; the `openstack role` commands."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.server import Server
from tests.identity import people
from tests.identity.people import api, error


@pytest.fixture(scope="module")
def tok(server: Server) -> str:
    return people.admin_token(server)


@pytest.fixture(scope="module")
def role_ids(server: Server, tok: str) -> dict[str, str]:
    roles = api(server, "GET", "/v3/roles", tok).json()["roles"]
    return {r["name"]: r["id"] for r in roles}


def _listing(server: Server, tok: str, query: str) -> list[dict[str, Any]]:
    r = api(server, "GET", f"/v3/role_assignments?{query}", tok)
    assert r.status_code == 200, r.text
    return list(r.json()["role_assignments"])


def test_grants_by_url(server: Server, tok: str, role_ids: dict[str, str]) -> None:
    user = people.create(server, tok, "user", name=people.uid("u"))
    group = people.create(server, tok, "group", name=people.uid("g"))
    project = people.create(server, tok, "project", name=people.uid("p"))
    reader = role_ids["reader"]
    for base in (
        f"/v3/projects/{project['id']}/users/{user['id']}/roles",
        f"/v3/projects/{project['id']}/groups/{group['id']}/roles",
        f"/v3/domains/default/users/{user['id']}/roles",
        f"/v3/domains/default/groups/{group['id']}/roles",
        f"/v3/system/users/{user['id']}/roles",
        f"/v3/system/groups/{group['id']}/roles",
        f"/v3/OS-INHERIT/domains/default/users/{user['id']}/roles",
        f"/v3/OS-INHERIT/projects/{project['id']}/groups/{group['id']}/roles",
    ):
        suffix = "/inherited_to_projects" if "OS-INHERIT" in base else ""
        one = f"{base}/{reader}{suffix}"
        error(api(server, "HEAD", one, tok), 404)
        error(api(server, "GET", one, tok), 404, "Could not find role assignment")
        assert api(server, "PUT", one, tok).status_code == 204
        assert api(server, "PUT", one, tok).status_code == 204
        assert api(server, "HEAD", one, tok).status_code == 204
        listed = api(server, "GET", f"{base}{suffix}", tok).json()
        assert [r["id"] for r in listed["roles"]] == [reader] and "self" in listed["links"]
        assert api(server, "DELETE", one, tok).status_code == 204
        error(api(server, "DELETE", one, tok), 404)
    error(
        api(server, "PUT", f"/v3/projects/nope/users/{user['id']}/roles/{reader}", tok),
        404,
        "Could not find project: nope.",
    )
    error(
        api(server, "PUT", f"/v3/projects/{project['id']}/users/nope/roles/{reader}", tok),
        404,
        "Could not find user: nope.",
    )
    error(
        api(server, "PUT", f"/v3/projects/{project['id']}/users/{user['id']}/roles/nope", tok),
        404,
        "Could not find role: nope.",
    )
    other = people.create(server, tok, "domain", name=people.uid("d"))
    scoped = people.create(server, tok, "role", name=people.uid("r"), domain_id=other["id"])
    r = api(
        server, "PUT", f"/v3/projects/{project['id']}/users/{user['id']}/roles/{scoped['id']}", tok
    )
    error(r, 403, "same domain")


def test_effective_listing(server: Server, tok: str, role_ids: dict[str, str]) -> None:
    domain = people.create(server, tok, "domain", name=people.uid("d"))
    top = people.create(server, tok, "project", name=people.uid("top"), domain_id=domain["id"])
    child = people.create(server, tok, "project", name=people.uid("kid"), parent_id=top["id"])
    user = people.create(server, tok, "user", name=people.uid("u"), domain_id=domain["id"])
    group = people.create(server, tok, "group", name=people.uid("g"), domain_id=domain["id"])
    api(server, "PUT", f"/v3/groups/{group['id']}/users/{user['id']}", tok)
    member, reader = role_ids["member"], role_ids["reader"]
    inherit = f"OS-INHERIT/domains/{domain['id']}/groups/{group['id']}/roles/{reader}/inherited_to_projects"
    assert api(server, "PUT", f"/v3/{inherit}", tok).status_code == 204
    direct = f"projects/{top['id']}/users/{user['id']}/roles/{member}"
    assert api(server, "PUT", f"/v3/{direct}", tok).status_code == 204

    stored = _listing(server, tok, f"scope.domain.id={domain['id']}")
    assert stored == [
        {
            "role": {"id": reader},
            "group": {"id": group["id"]},
            "scope": {"domain": {"id": domain["id"]}, "OS-INHERIT:inherited_to": "projects"},
            "links": {"assignment": f"{server.url}/v3/{inherit}"},
        }
    ]
    assert (
        _listing(
            server, tok, f"scope.domain.id={domain['id']}&scope.OS-INHERIT:inherited_to=projects"
        )
        == stored
    )

    found = _listing(server, tok, f"user.id={user['id']}&effective")
    seen = {(a["role"]["id"], a["scope"]["project"]["id"]) for a in found}
    assert seen == {(member, top["id"]), (reader, top["id"]), (reader, child["id"])}
    assert all("group" not in a and a["user"] == {"id": user["id"]} for a in found)
    implied = [a for a in found if a["links"].get("prior_role")]
    assert implied and implied[0]["links"] == {
        "assignment": f"{server.url}/v3/{direct}",
        "prior_role": f"{server.url}/v3/roles/{member}",
    }
    via_group = [a for a in found if "membership" in a["links"]]
    assert {a["scope"]["project"]["id"] for a in via_group} == {top["id"], child["id"]}
    assert via_group[0]["links"]["assignment"] == f"{server.url}/v3/{inherit}"

    only_child = _listing(
        server, tok, f"user.id={user['id']}&scope.project.id={child['id']}&effective"
    )
    assert [(a["role"]["id"]) for a in only_child] == [reader]
    tree = _listing(server, tok, f"scope.project.id={top['id']}&include_subtree=true&effective")
    assert {a["scope"]["project"]["id"] for a in tree} == {top["id"], child["id"]}
    by_role = _listing(server, tok, f"user.id={user['id']}&role.id={reader}&effective")
    assert {a["scope"]["project"]["id"] for a in by_role} == {top["id"], child["id"]}

    named = _listing(
        server, tok, f"user.id={user['id']}&scope.project.id={child['id']}&effective&include_names"
    )
    assert named[0]["user"] == {
        "id": user["id"],
        "name": user["name"],
        "domain": {"id": domain["id"], "name": domain["name"]},
    }
    assert named[0]["role"] == {"id": reader, "name": "reader"}
    assert named[0]["scope"]["project"]["name"] == child["name"]

    error(api(server, "GET", f"/v3/role_assignments?group.id={group['id']}&effective", tok), 400)
    error(api(server, "GET", "/v3/role_assignments?include_subtree=true", tok), 400)
    r = api(
        server,
        "GET",
        f"/v3/role_assignments?scope.project.id={top['id']}&scope.domain.id=default",
        tok,
    )
    error(r, 400)


def test_system_assignments(server: Server, tok: str, role_ids: dict[str, str]) -> None:
    admins = _listing(server, tok, "scope.system=all")
    assert any(
        a["scope"] == {"system": {"all": True}}
        and a["links"]["assignment"].endswith(
            f"/system/users/{a['user']['id']}/roles/{a['role']['id']}"
        )
        for a in admins
    )


def test_removed_grant_ends_role_in_tokens(server: Server, tok: str) -> None:
    m = people.member(server, tok)
    assert people.valid(server, m["token"])
    grant = f"/v3/projects/{m['project']['id']}/users/{m['user']['id']}/roles/{m['role_id']}"
    assert api(server, "DELETE", grant, tok).status_code == 204
    assert not people.valid(server, m["token"])


def test_cli_role_add_and_assignment_list(server: Server) -> None:
    tok = people.admin_token(server)
    name = people.uid("alice")
    people.create(server, tok, "user", name=name, password="pw")
    server.cli("role", "add", "--project", "demo", "--user", name, "member")
    rows = server.cli_json("role", "assignment", "list", "--names", "--effective", "--user", name)
    assert {(r["Role"], r["User"], r["Project"]) for r in rows} == {
        ("member", f"{name}@Default", "demo@Default"),
        ("reader", f"{name}@Default", "demo@Default"),
    }
