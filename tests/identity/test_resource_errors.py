"""Bad input to the domain, project, user, group and role APIs: always Keystone's 4xx error body
(`{"error": {"code", "title", "message"}}`), never a 500, and nothing changed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.server import Server
from tests.identity import people
from tests.identity.people import api, error

KINDS = ("domain", "project", "user", "group", "role")
NAME_LIMIT = {"domain": 64, "project": 64, "group": 64, "user": 255, "role": 255}


@pytest.fixture(scope="module")
def tok(server: Server) -> str:
    return people.admin_token(server)


def _everything(server: Server, tok: str) -> dict[str, Any]:
    return {k: api(server, "GET", f"/v3/{k}s", tok).json()[f"{k}s"] for k in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_bad_bodies(server: Server, tok: str, kind: str) -> None:
    before = _everything(server, tok)
    url = f"/v3/{kind}s"
    json_type = {"Content-Type": "application/json"}
    raw_bodies = (b"{not json", b"[]", b'"x"', b"")
    for body in raw_bodies:
        r = api(server, "POST", url, tok, content=body, headers=json_type)
        error(r, 400)
    error(api(server, "POST", url, tok, content=b"{oops", headers=json_type), 400, "not valid JSON")
    limit = NAME_LIMIT[kind]
    cases: list[Any] = [
        {},
        {kind: []},
        {kind: {}},
        {kind: {"description": "no name"}},
        {kind: {"name": None}},
        {kind: {"name": 123}},
        {kind: {"name": ""}},
        {kind: {"name": "   "}},
        {kind: {"name": "x" * (limit + 1)}},
        {kind: {"name": people.uid(), "description": ["x"]}},
    ]
    if kind != "domain":
        cases += [
            {kind: {"name": people.uid(), "domain_id": 7}},
            {kind: {"name": people.uid(), "domain_id": "no-such-domain"}},
        ]
    if kind in ("domain", "project", "user"):
        cases += [
            {kind: {"name": people.uid(), "enabled": "yes"}},
            {kind: {"name": people.uid(), "enabled": 1}},
        ]
    if kind in ("domain", "project", "user", "role"):
        cases += [
            {kind: {"name": people.uid(), "options": []}},
            {kind: {"name": people.uid(), "options": {"unknown_option": True}}},
        ]
    if kind == "project":
        cases += [
            {kind: {"name": people.uid(), "tags": "a"}},
            {kind: {"name": people.uid(), "tags": ["a,b"]}},
            {kind: {"name": people.uid(), "is_domain": True, "domain_id": "default"}},
            {kind: {"name": people.uid(), "is_domain": True, "parent_id": "default"}},
            {kind: {"name": people.uid(), "parent_id": "nope"}},
        ]
    if kind == "user":
        cases += [
            {kind: {"name": people.uid(), "password": 12345}},
            {kind: {"name": people.uid(), "password": "x" * 5000}},
            {kind: {"name": people.uid(), "email": "x" * 300}},
        ]
    for body in cases:
        r = api(server, "POST", url, tok, json=body)
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
        error(r, r.status_code)
    assert _everything(server, tok) == before


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_ids_and_duplicates(server: Server, tok: str, kind: str) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        body = {kind: {"description": "x"}} if method == "PATCH" else None
        r = api(server, method, f"/v3/{kind}s/no-such-id", tok, json=body)
        error(r, 404, f"Could not find {kind}: no-such-id.")
    name = people.uid("dup")
    made = people.create(server, tok, kind, name=name)
    r = api(server, "POST", f"/v3/{kind}s", tok, json={kind: {"name": name}})
    error(r, 409, f"Conflict occurred attempting to store {kind} - Duplicate entry")
    other = people.create(server, tok, kind, name=people.uid("dup"))
    r = api(server, "PATCH", f"/v3/{kind}s/{other['id']}", tok, json={kind: {"name": name}})
    error(r, 409, "Duplicate entry")
    assert (
        api(server, "GET", f"/v3/{kind}s/{other['id']}", tok).json()[kind]["name"] == other["name"]
    )
    r = api(server, "PATCH", f"/v3/{kind}s/{made['id']}", tok, json={kind: {"name": "y" * 300}})
    error(r, 400)
    if kind != "role":
        r = api(server, "PATCH", f"/v3/{kind}s/{made['id']}", tok, json={kind: {"name": None}})
        error(r, 400)
    for row in (made, other):
        if kind == "domain":
            api(
                server,
                "PATCH",
                f"/v3/domains/{row['id']}",
                tok,
                json={"domain": {"enabled": False}},
            )
        assert api(server, "DELETE", f"/v3/{kind}s/{row['id']}", tok).status_code == 204


def test_bad_queries_and_immutable_fields(server: Server, tok: str) -> None:
    error(api(server, "GET", "/v3/users?name__bogus=x", tok), 400)
    error(api(server, "GET", "/v3/projects?limit=many", tok), 400)
    error(api(server, "GET", "/v3/projects?limit=1&marker=nope", tok), 400)
    error(api(server, "GET", "/v3/role_assignments?scope.system=some", tok), 400)
    project = people.create(server, tok, "project", name=people.uid("p"))
    r = api(
        server, "PATCH", f"/v3/projects/{project['id']}", tok, json={"project": {"domain_id": "x"}}
    )
    error(r, 400)
    r = api(
        server, "PATCH", f"/v3/projects/{project['id']}", tok, json={"project": {"is_domain": True}}
    )
    error(r, 400)
    user = people.create(server, tok, "user", name=people.uid("u"))
    r = api(server, "POST", f"/v3/users/{user['id']}/password", tok, json={"user": {"password": 1}})
    error(r, 400)
    r = api(
        server,
        "POST",
        "/v3/users/nobody/password",
        tok,
        json={"user": {"password": "a", "original_password": "b"}},
    )
    error(r, 401)
    for path in ("/v3/users", "/v3/projects", "/v3/role_assignments"):
        assert api(server, "GET", path, "not-a-token").status_code == 401
