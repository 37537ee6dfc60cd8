"""Helpers for the identity resource tests: unique names, users with tokens, error checks."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.helpers.server import Server
from tests.identity import raw


def uid(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def admin_token(server: Server) -> str:
    return raw.token(server, "admin", "admin")


def api(server: Server, method: str, path: str, token: str, **kw: Any) -> httpx.Response:
    return raw.call(server, method, path, token, **kw)


def create(server: Server, token: str, kind: str, **body: Any) -> dict[str, Any]:
    """POST /v3/<kind>s with {kind: body}; asserts 201 and returns the resource."""
    r = api(server, "POST", f"/v3/{kind}s", token, json={kind: body})
    assert r.status_code == 201, r.text
    return dict(r.json()[kind])


def login(
    server: Server,
    name: str,
    password: str,
    project: str | None = None,
    domain: str = "Default",
    project_domain: str = "Default",
) -> httpx.Response:
    scope: Any = raw.project_scope(project, project_domain) if project else "unscoped"
    return raw.issue(server, raw.password_body(name, password, scope, domain=domain))


def member(server: Server, token: str, role: str = "member") -> dict[str, Any]:
    """A fresh project and a user holding `role` on it, with a project-scoped token."""
    project = create(server, token, "project", name=uid("p"), domain_id="default")
    password = uuid.uuid4().hex
    user = create(server, token, "user", name=uid("u"), password=password, domain_id="default")
    role_id = api(server, "GET", f"/v3/roles?name={role}", token).json()["roles"][0]["id"]
    r = api(
        server, "PUT", f"/v3/projects/{project['id']}/users/{user['id']}/roles/{role_id}", token
    )
    assert r.status_code == 204, r.text
    r = login(server, user["name"], password, project["name"])
    assert r.status_code == 201, r.text
    return {
        "project": project,
        "user": user,
        "password": password,
        "role_id": role_id,
        "token": r.headers["X-Subject-Token"],
    }


def valid(server: Server, token: str) -> bool:
    """Whether `token` still authenticates a request (through the cached validator)."""
    return (
        api(server, "GET", "/v3/auth/tokens", token, headers={"X-Subject-Token": token}).status_code
        == 200
    )


def error(r: httpx.Response, status: int, message: str | None = None) -> None:
    """`r` is Keystone's error body with `status` (and `message` in its message)."""
    assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text)
    if r.request.method == "HEAD":
        return
    body = r.json()["error"]
    assert body["code"] == status and body["title"], body
    if message is not None:
        assert message in body["message"], body
