"""Groups: CRUD, membership (`PUT|HEAD|DELETE /v3/groups/{g}/users/{u}`), a user's groups, and
roles that come through a group (removing the member ends them at once); `openstack group
add user`."""

from __future__ import annotations

import pytest

from tests.helpers.server import Server
from tests.identity import people
from tests.identity.people import api, error


@pytest.fixture(scope="module")
def tok(server: Server) -> str:
    return people.admin_token(server)


def test_group_crud_and_membership(server: Server, tok: str) -> None:
    name = people.uid("g")
    group = people.create(server, tok, "group", name=name, description="team")
    assert set(group) == {"id", "name", "domain_id", "description", "links"}
    assert group["domain_id"] == "default"
    error(api(server, "POST", "/v3/groups", tok, json={"group": {"name": name}}), 409)
    r = api(server, "PATCH", f"/v3/groups/{group['id']}", tok, json={"group": {"description": "2"}})
    assert r.json()["group"]["description"] == "2"
    assert [
        g["id"] for g in api(server, "GET", f"/v3/groups?name={name}", tok).json()["groups"]
    ] == [group["id"]]
    user = people.create(server, tok, "user", name=people.uid("u"))
    member = f"/v3/groups/{group['id']}/users/{user['id']}"
    error(api(server, "HEAD", member, tok), 404)
    assert api(server, "PUT", member, tok).status_code == 204
    assert api(server, "PUT", member, tok).status_code == 204  # idempotent
    assert api(server, "HEAD", member, tok).status_code == 204
    users = api(server, "GET", f"/v3/groups/{group['id']}/users", tok).json()["users"]
    assert [u["id"] for u in users] == [user["id"]]
    mine = api(server, "GET", f"/v3/users/{user['id']}/groups", tok).json()["groups"]
    assert [g["id"] for g in mine] == [group["id"]] and mine[0]["membership_expires_at"] is None
    error(
        api(server, "PUT", f"/v3/groups/{group['id']}/users/nobody", tok),
        404,
        "Could not find user: nobody.",
    )
    error(
        api(server, "PUT", f"/v3/groups/nogroup/users/{user['id']}", tok),
        404,
        "Could not find group",
    )
    assert api(server, "DELETE", member, tok).status_code == 204
    error(api(server, "DELETE", member, tok), 404)
    api(server, "PUT", member, tok)
    assert api(server, "DELETE", f"/v3/groups/{group['id']}", tok).status_code == 204
    assert api(server, "GET", f"/v3/users/{user['id']}/groups", tok).json()["groups"] == []


def test_group_roles_reach_members(server: Server, tok: str) -> None:
    m = people.member(server, tok)
    group = people.create(server, tok, "group", name=people.uid("g"))
    project = people.create(server, tok, "project", name=people.uid("p"))
    grant = f"/v3/projects/{project['id']}/groups/{group['id']}/roles/{m['role_id']}"
    assert api(server, "PUT", grant, tok).status_code == 204
    api(server, "PUT", f"/v3/groups/{group['id']}/users/{m['user']['id']}", tok)
    r = people.login(server, m["user"]["name"], m["password"], project["name"])
    assert r.status_code == 201, r.text
    token = r.headers["X-Subject-Token"]
    assert people.valid(server, token)
    effective = api(
        server,
        "GET",
        f"/v3/role_assignments?user.id={m['user']['id']}&scope.project.id={project['id']}&effective",
        tok,
    ).json()["role_assignments"]
    assert effective and all(
        a["links"]["membership"] == f"{server.url}/v3/groups/{group['id']}/users/{m['user']['id']}"
        for a in effective
    )
    api(server, "DELETE", f"/v3/groups/{group['id']}/users/{m['user']['id']}", tok)
    assert not people.valid(server, token)


def test_cli_group_add_user(server: Server) -> None:
    group, user = people.uid("g"), people.uid("u")
    tok = people.admin_token(server)
    people.create(server, tok, "group", name=group)
    people.create(server, tok, "user", name=user)
    server.cli("group", "add", "user", group, user)
    gid = api(server, "GET", f"/v3/groups?name={group}", tok).json()["groups"][0]["id"]
    assert [
        u["name"] for u in api(server, "GET", f"/v3/groups/{gid}/users", tok).json()["users"]
    ] == [user]
