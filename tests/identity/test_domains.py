"""Domains: CRUD in Keystone's shapes, filters, delete only when disabled (taking the domain's
projects, users and grants with it), and disabling ends the tokens of its users at once."""

from __future__ import annotations

import pytest

from tests.helpers.server import Server
from tests.identity import people
from tests.identity.people import api, error


@pytest.fixture(scope="module")
def tok(server: Server) -> str:
    return people.admin_token(server)


def test_domain_crud_and_shape(server: Server, tok: str) -> None:
    name = people.uid("d")
    domain = people.create(server, tok, "domain", name=name, description="first", tags=["x"])
    assert set(domain) == {"id", "name", "description", "enabled", "tags", "options", "links"}
    assert domain["enabled"] is True and domain["tags"] == ["x"] and domain["options"] == {}
    assert domain["links"]["self"] == f"{server.url}/v3/domains/{domain['id']}"
    r = api(
        server, "PATCH", f"/v3/domains/{domain['id']}", tok, json={"domain": {"description": "2"}}
    )
    assert r.status_code == 200 and r.json()["domain"]["description"] == "2"
    listed = api(server, "GET", f"/v3/domains?name={name}", tok).json()
    assert [d["id"] for d in listed["domains"]] == [domain["id"]]
    assert listed["links"] == {
        "self": f"{server.url}/v3/domains?name={name}",
        "previous": None,
        "next": None,
    }
    enabled = api(server, "GET", "/v3/domains?enabled=false", tok).json()["domains"]
    assert domain["id"] not in [d["id"] for d in enabled]
    error(api(server, "DELETE", f"/v3/domains/{domain['id']}", tok), 403, "enabled")
    r = api(
        server, "PATCH", f"/v3/domains/{domain['id']}", tok, json={"domain": {"enabled": False}}
    )
    assert r.json()["domain"]["enabled"] is False
    assert api(server, "DELETE", f"/v3/domains/{domain['id']}", tok).status_code == 204
    error(
        api(server, "GET", f"/v3/domains/{domain['id']}", tok),
        404,
        f"Could not find domain: {domain['id']}.",
    )


def test_default_domain_cannot_be_disabled(server: Server, tok: str) -> None:
    r = api(server, "PATCH", "/v3/domains/default", tok, json={"domain": {"enabled": False}})
    error(r, 403)
    assert api(server, "GET", "/v3/domains/default", tok).json()["domain"]["enabled"] is True


def test_disable_ends_tokens_and_delete_cascades(server: Server, tok: str) -> None:
    domain = people.create(server, tok, "domain", name=people.uid("d"))
    project = people.create(server, tok, "project", name=people.uid("p"), domain_id=domain["id"])
    user = people.create(
        server, tok, "user", name=people.uid("u"), password="pw-1", domain_id=domain["id"]
    )
    member = api(server, "GET", "/v3/roles?name=member", tok).json()["roles"][0]["id"]
    grant = f"/v3/projects/{project['id']}/users/{user['id']}/roles/{member}"
    assert api(server, "PUT", grant, tok).status_code == 204
    r = people.login(server, user["name"], "pw-1", project["name"], domain["name"], domain["name"])
    token = r.headers["X-Subject-Token"]
    assert people.valid(server, token)
    api(server, "PATCH", f"/v3/domains/{domain['id']}", tok, json={"domain": {"enabled": False}})
    assert not people.valid(server, token)
    error(people.login(server, user["name"], "pw-1", project["name"], domain["name"]), 401)
    api(server, "PATCH", f"/v3/domains/{domain['id']}", tok, json={"domain": {"enabled": True}})
    assert not people.valid(server, token)  # revoked, not merely refused while disabled
    api(server, "PATCH", f"/v3/domains/{domain['id']}", tok, json={"domain": {"enabled": False}})
    assert api(server, "DELETE", f"/v3/domains/{domain['id']}", tok).status_code == 204
    for path in (f"/v3/projects/{project['id']}", f"/v3/users/{user['id']}"):
        error(api(server, "GET", path, tok), 404)
    listed = api(server, "GET", f"/v3/role_assignments?user.id={user['id']}", tok).json()
    assert listed["role_assignments"] == []


def test_cli_domain_lifecycle(server: Server) -> None:
    name = people.uid("d")
    created = server.cli_json("domain", "create", "--description", "cli", name)
    assert created["name"] == name and created["enabled"] is True
    server.cli("domain", "set", "--disable", name)
    tok = people.admin_token(server)
    shown = api(server, "GET", f"/v3/domains/{created['id']}", tok).json()["domain"]
    assert shown["enabled"] is False
    server.cli("domain", "delete", name)
    assert api(server, "GET", f"/v3/domains?name={name}", tok).json()["domains"] == []
