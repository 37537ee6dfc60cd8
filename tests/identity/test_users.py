"""Users: create with a password that is never shown, extra attributes returned flat, options,
filters, a user reading and editing themselves, password change (401 with a wrong original,
ends the old tokens), disable and delete ending tokens at once, and the CLI commands."""

from __future__ import annotations

import json

import pytest

from tests.helpers.server import Server
from tests.helpers.tty import cli_tty
from tests.identity import people
from tests.identity.people import api, error


@pytest.fixture(scope="module")
def tok(server: Server) -> str:
    return people.admin_token(server)


def test_user_shape_extra_and_options(server: Server, tok: str) -> None:
    name = people.uid("u")
    user = people.create(
        server,
        tok,
        "user",
        name=name,
        password="secret-1",
        email="a@example.com",
        description="desk",
        options={"ignore_lockout_failure_attempts": True},
    )
    assert "password" not in user and "password_hash" not in user and "extra" not in user
    assert user["email"] == "a@example.com" and user["description"] == "desk"
    assert user["options"] == {"ignore_lockout_failure_attempts": True}
    assert user["password_expires_at"] is None and user["enabled"] is True
    assert user["domain_id"] == "default" and "default_project_id" not in user
    assert user["links"]["self"] == f"{server.url}/v3/users/{user['id']}"
    r = api(
        server,
        "PATCH",
        f"/v3/users/{user['id']}",
        tok,
        json={
            "user": {"email": "b@example.com", "options": {"ignore_lockout_failure_attempts": None}}
        },
    )
    assert r.json()["user"]["email"] == "b@example.com" and r.json()["user"]["options"] == {}
    error(
        api(
            server, "PATCH", f"/v3/users/{user['id']}", tok, json={"user": {"options": {"nope": 1}}}
        ),
        400,
    )
    listed = api(server, "GET", f"/v3/users?name={name}&domain_id=default&enabled=true", tok)
    assert [u["id"] for u in listed.json()["users"]] == [user["id"]]
    assert api(server, "GET", f"/v3/users?name={name}&enabled=false", tok).json()["users"] == []
    assert "secret-1" not in listed.text and "$2b$" not in listed.text
    assert people.login(server, name, "secret-1").status_code == 201
    assert api(server, "DELETE", f"/v3/users/{user['id']}", tok).status_code == 204
    error(
        api(server, "GET", f"/v3/users/{user['id']}", tok),
        404,
        f"Could not find user: {user['id']}.",
    )


def test_self_service(server: Server, tok: str) -> None:
    m = people.member(server, tok)
    me, mine = m["user"]["id"], m["token"]
    assert api(server, "GET", f"/v3/users/{me}", mine).json()["user"]["id"] == me
    r = api(server, "PATCH", f"/v3/users/{me}", mine, json={"user": {"email": "me@example.com"}})
    assert r.status_code == 200 and r.json()["user"]["email"] == "me@example.com"
    for change in ({"enabled": False}, {"name": "renamed"}, {"password": "x"}, {"options": {}}):
        error(api(server, "PATCH", f"/v3/users/{me}", mine, json={"user": change}), 403)
    other = people.create(server, tok, "user", name=people.uid("o"))
    error(api(server, "GET", f"/v3/users/{other['id']}", mine), 403)
    error(
        api(server, "PATCH", f"/v3/users/{other['id']}", mine, json={"user": {"email": "x"}}), 403
    )
    error(api(server, "GET", "/v3/users", mine), 403)
    error(api(server, "POST", "/v3/users", mine, json={"user": {"name": people.uid("x")}}), 403)
    error(api(server, "DELETE", f"/v3/users/{other['id']}", mine), 403)
    assert api(server, "GET", f"/v3/users/{other['id']}", tok).json()["user"].get("email") is None


def test_password_change(server: Server, tok: str) -> None:
    m = people.member(server, tok)
    me, name = m["user"]["id"], m["user"]["name"]
    path = f"/v3/users/{me}/password"
    wrong = {"user": {"original_password": "wrong", "password": "new-pw-1"}}
    error(api(server, "POST", path, m["token"], json=wrong), 401)
    assert people.valid(server, m["token"])
    error(api(server, "POST", path, m["token"], json={"user": {"password": "x"}}), 400)
    right = {"user": {"original_password": m["password"], "password": "new-pw-1"}}
    assert api(server, "POST", path, m["token"], json=right).status_code == 204
    assert not people.valid(server, m["token"])
    error(people.login(server, name, m["password"]), 401)
    assert people.login(server, name, "new-pw-1", m["project"]["name"]).status_code == 201
    # without a token too: a user whose password expired has none
    again = {"user": {"original_password": "new-pw-1", "password": "new-pw-2"}}
    r = api(server, "POST", path, "", json=again, headers={"X-Auth-Token": ""})
    assert r.status_code == 204, r.text
    assert people.login(server, name, "new-pw-2").status_code == 201


def test_admin_password_reset_and_disable_end_tokens(server: Server, tok: str) -> None:
    m = people.member(server, tok)
    me = m["user"]["id"]
    api(server, "PATCH", f"/v3/users/{me}", tok, json={"user": {"password": "reset-1"}})
    assert not people.valid(server, m["token"])
    token = people.login(server, m["user"]["name"], "reset-1", m["project"]["name"]).headers[
        "X-Subject-Token"
    ]
    assert people.valid(server, token)
    api(server, "PATCH", f"/v3/users/{me}", tok, json={"user": {"enabled": False}})
    assert not people.valid(server, token)
    error(people.login(server, m["user"]["name"], "reset-1"), 401)
    api(server, "PATCH", f"/v3/users/{me}", tok, json={"user": {"enabled": True}})
    assert not people.valid(server, token)
    token = people.login(server, m["user"]["name"], "reset-1", m["project"]["name"]).headers[
        "X-Subject-Token"
    ]
    assert api(server, "DELETE", f"/v3/users/{me}", tok).status_code == 204
    assert not people.valid(server, token)


def test_cli_user_create_prompt_disable_and_password_set(server: Server) -> None:
    name = people.uid("alice")
    code, out = cli_tty(
        server,
        "user",
        "create",
        "--password-prompt",
        "--email",
        "alice@example.com",
        "-f",
        "json",
        name,
        answers=["pw-prompted", "pw-prompted"],
    )
    assert code == 0, out
    created = json.loads(out[out.index("{") :])
    assert created["email"] == "alice@example.com" and "password" not in created
    tok = people.admin_token(server)
    demo = api(server, "GET", "/v3/projects?name=demo", tok).json()["projects"][0]["id"]
    member = api(server, "GET", "/v3/roles?name=member", tok).json()["roles"][0]["id"]
    api(server, "PUT", f"/v3/projects/{demo}/users/{created['id']}/roles/{member}", tok)
    as_alice = ("--os-username", name, "--os-password", "pw-prompted", "--os-project-name", "demo")
    server.cli(
        *as_alice,
        "user",
        "password",
        "set",
        "--original-password",
        "pw-prompted",
        "--password",
        "pw-changed",
    )
    assert people.login(server, name, "pw-changed", "demo").status_code == 201
    server.cli("user", "set", "--disable", name)
    assert api(server, "GET", f"/v3/users/{created['id']}", tok).json()["user"]["enabled"] is False
    error(people.login(server, name, "pw-changed"), 401)
