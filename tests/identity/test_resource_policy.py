"""Who may do what with identity resources: a project member reads their own project, domain,
user, projects and role assignments and nothing of another tenant's; system readers read
everything and change nothing; domain readers read their own domain only."""

from __future__ import annotations

import pytest

from tests.helpers.isolation import Tenant, assert_hidden
from tests.helpers.server import Server
from tests.identity import people, raw
from tests.identity.people import api, error


@pytest.fixture(scope="module")
def tok(server: Server) -> str:
    return people.admin_token(server)


def test_member_sees_only_itself(server: Server, tok: str) -> None:
    a, b = people.member(server, tok), people.member(server, tok)
    mine, me = a["token"], a["user"]["id"]
    assert api(server, "GET", f"/v3/projects/{a['project']['id']}", mine).status_code == 200
    assert api(server, "GET", "/v3/domains/default", mine).status_code == 200
    assert [
        p["id"] for p in api(server, "GET", f"/v3/users/{me}/projects", mine).json()["projects"]
    ] == [a["project"]["id"]]
    own = api(server, "GET", f"/v3/role_assignments?user.id={me}&effective", mine).json()
    assert {x["scope"]["project"]["id"] for x in own["role_assignments"]} == {a["project"]["id"]}
    assert api(server, "GET", f"/v3/users/{me}/groups", mine).status_code == 200
    theirs, project_b = b["user"]["id"], b["project"]["id"]
    grant = f"/v3/projects/{project_b}/users/{me}/roles/{b['role_id']}"
    for method, path, body in (
        ("GET", f"/v3/projects/{project_b}", None),
        ("PATCH", f"/v3/projects/{project_b}", {"project": {"description": "mine now"}}),
        ("DELETE", f"/v3/projects/{project_b}", None),
        ("GET", f"/v3/projects/{project_b}/tags", None),
        ("PUT", f"/v3/projects/{project_b}/tags/x", None),
        ("GET", f"/v3/users/{theirs}", None),
        ("GET", f"/v3/users/{theirs}/projects", None),
        ("GET", f"/v3/role_assignments?user.id={theirs}", None),
        ("GET", "/v3/role_assignments", None),
        ("PUT", grant, None),
        ("GET", "/v3/projects", None),
        ("GET", "/v3/users", None),
        ("GET", "/v3/groups", None),
        ("GET", "/v3/domains", None),
        ("POST", "/v3/projects", {"project": {"name": people.uid()}}),
        ("POST", "/v3/domains", {"domain": {"name": people.uid()}}),
        ("POST", "/v3/roles", {"role": {"name": people.uid()}}),
        ("PUT", f"/v3/roles/{b['role_id']}/implies/{b['role_id']}", None),
    ):
        r = api(server, method, path, mine, json=body)
        error(r, 403)
    assert (
        api(server, "GET", f"/v3/projects/{project_b}", tok).json()["project"]["description"] == ""
    )
    assert api(server, "HEAD", grant, tok).status_code == 404


def test_system_reader_reads_but_does_not_write(server: Server, tok: str) -> None:
    password = "sys-reader-pw"
    user = people.create(server, tok, "user", name=people.uid("sr"), password=password)
    reader = api(server, "GET", "/v3/roles?name=reader", tok).json()["roles"][0]["id"]
    assert (
        api(server, "PUT", f"/v3/system/users/{user['id']}/roles/{reader}", tok).status_code == 204
    )
    r = raw.issue(server, raw.password_body(user["name"], password, {"system": {"all": True}}))
    assert r.status_code == 201, r.text
    sys_token = r.headers["X-Subject-Token"]
    for path in ("/v3/users", "/v3/projects", "/v3/domains", "/v3/groups", "/v3/role_assignments"):
        assert api(server, "GET", path, sys_token).status_code == 200, path
    error(
        api(server, "POST", "/v3/projects", sys_token, json={"project": {"name": people.uid()}}),
        403,
    )
    error(api(server, "DELETE", f"/v3/users/{user['id']}", sys_token), 403)


def test_domain_reader_reads_own_domain(server: Server, tok: str) -> None:
    domain = people.create(server, tok, "domain", name=people.uid("d"))
    password = "dom-reader-pw"
    user = people.create(
        server, tok, "user", name=people.uid("dr"), password=password, domain_id=domain["id"]
    )
    reader = api(server, "GET", "/v3/roles?name=reader", tok).json()["roles"][0]["id"]
    api(server, "PUT", f"/v3/domains/{domain['id']}/users/{user['id']}/roles/{reader}", tok)
    body = raw.password_body(
        user["name"], password, {"domain": {"id": domain["id"]}}, domain=domain["name"]
    )
    r = raw.issue(server, body)
    assert r.status_code == 201, r.text
    dom_token = r.headers["X-Subject-Token"]
    users = api(server, "GET", "/v3/users", dom_token).json()["users"]
    assert [u["id"] for u in users] == [user["id"]]
    error(api(server, "GET", "/v3/users?domain_id=default", dom_token), 403)
    error(api(server, "GET", "/v3/projects/" + raw_project(server, tok), dom_token), 403)


def raw_project(server: Server, tok: str) -> str:
    return str(api(server, "GET", "/v3/projects?name=demo", tok).json()["projects"][0]["id"])


def test_sdk_isolation_pattern(tenant_factory, admin) -> None:  # type: ignore[no-untyped-def]
    a: Tenant = tenant_factory()
    b: Tenant = tenant_factory()
    assert a.conn.identity.get_project(a.project_id).id == a.project_id
    assert_hidden(
        lambda: a.conn.identity.get_project(b.project_id),
        lambda: a.conn.identity.update_project(b.project_id, description="x"),
        lambda: a.conn.identity.get_user(b.user_id),
        lambda: a.conn.identity.delete_project(b.project_id),
    )
    assert admin.identity.get_project(b.project_id).description == ""
