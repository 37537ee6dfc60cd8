"""Roles: global and domain-specific CRUD, implied roles (`/v3/roles/{p}/implies/{i}`,
`/v3/role_inferences`) with Keystone's refusals, and `openstack implied role create`."""

from __future__ import annotations

import pytest

from tests.helpers.server import Server
from tests.identity import people
from tests.identity.people import api, error


@pytest.fixture(scope="module")
def tok(server: Server) -> str:
    return people.admin_token(server)


def test_role_crud_global_and_domain(server: Server, tok: str) -> None:
    name = people.uid("r")
    role = people.create(server, tok, "role", name=name, description="does things")
    assert (
        role["domain_id"] is None and role["options"] == {} and role["description"] == "does things"
    )
    assert role["links"]["self"] == f"{server.url}/v3/roles/{role['id']}"
    error(
        api(server, "POST", "/v3/roles", tok, json={"role": {"name": name}}), 409, "Duplicate entry"
    )
    scoped = people.create(server, tok, "role", name=name, domain_id="default")
    assert scoped["domain_id"] == "default"
    globals_ = api(server, "GET", f"/v3/roles?name={name}", tok).json()["roles"]
    assert [r["id"] for r in globals_] == [role["id"]]
    in_domain = api(server, "GET", f"/v3/roles?name={name}&domain_id=default", tok).json()["roles"]
    assert [r["id"] for r in in_domain] == [scoped["id"]]
    r = api(server, "PATCH", f"/v3/roles/{role['id']}", tok, json={"role": {"name": name + "x"}})
    assert r.json()["role"]["name"] == name + "x"
    locked = people.create(server, tok, "role", name=people.uid("imm"), options={"immutable": True})
    error(api(server, "DELETE", f"/v3/roles/{locked['id']}", tok), 403, "immutable")
    api(
        server,
        "PATCH",
        f"/v3/roles/{locked['id']}",
        tok,
        json={"role": {"options": {"immutable": False}}},
    )
    for made in (role, scoped, locked):
        assert api(server, "DELETE", f"/v3/roles/{made['id']}", tok).status_code == 204
    error(
        api(server, "GET", f"/v3/roles/{role['id']}", tok),
        404,
        f"Could not find role: {role['id']}.",
    )


def test_implied_roles(server: Server, tok: str) -> None:
    prior = people.create(server, tok, "role", name=people.uid("prior"))
    implied = people.create(server, tok, "role", name=people.uid("implied"))
    path = f"/v3/roles/{prior['id']}/implies/{implied['id']}"
    r = api(server, "PUT", path, tok)
    assert r.status_code == 201
    body = r.json()
    assert body["role_inference"]["prior_role"]["id"] == prior["id"]
    assert body["role_inference"]["implies"] == {
        "id": implied["id"],
        "name": implied["name"],
        "links": {"self": f"{server.url}/v3/roles/{implied['id']}"},
    }
    assert body["links"]["self"] == f"{server.url}{path}"
    assert api(server, "HEAD", path, tok).status_code == 204
    assert api(server, "GET", path, tok).json() == body
    listed = api(server, "GET", f"/v3/roles/{prior['id']}/implies", tok).json()
    assert [i["id"] for i in listed["role_inference"]["implies"]] == [implied["id"]]
    rules = api(server, "GET", "/v3/role_inferences", tok).json()["role_inferences"]
    assert any(rule["prior_role"]["id"] == prior["id"] for rule in rules)
    error(api(server, "PUT", f"/v3/roles/{implied['id']}/implies/{prior['id']}", tok), 403, "loop")
    error(api(server, "PUT", f"/v3/roles/{prior['id']}/implies/{prior['id']}", tok), 403)
    admin_id = api(server, "GET", "/v3/roles?name=admin", tok).json()["roles"][0]["id"]
    error(api(server, "PUT", f"/v3/roles/{prior['id']}/implies/{admin_id}", tok), 403)
    error(
        api(server, "PUT", f"/v3/roles/{prior['id']}/implies/missing", tok),
        404,
        "Could not find role: missing.",
    )
    assert api(server, "DELETE", path, tok).status_code == 204
    error(api(server, "HEAD", path, tok), 404)
    for made in (prior, implied):
        api(server, "DELETE", f"/v3/roles/{made['id']}", tok)


def test_cli_implied_role_create(server: Server) -> None:
    role = people.uid("cli")
    tok = people.admin_token(server)
    people.create(server, tok, "role", name=role)
    made = server.cli_json("implied", "role", "create", "--implied-role", "reader", role)
    reader = api(server, "GET", "/v3/roles?name=reader", tok).json()["roles"][0]["id"]
    assert made["implies"] == reader
