"""Raw Keystone calls for identity tests that need exact bodies, headers or malformed input."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.server import Server


def password_body(
    user: str, password: str, scope: Any = None, *, domain: str = "Default"
) -> dict[str, Any]:
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": user, "domain": {"name": domain}, "password": password}},
        }
    }
    if scope is not None:
        auth["scope"] = scope
    return {"auth": auth}


def project_scope(name: str, domain: str = "Default") -> dict[str, Any]:
    return {"project": {"name": name, "domain": {"name": domain}}}


def issue(server: Server, body: dict[str, Any], query: str = "") -> httpx.Response:
    return httpx.post(f"{server.url}/v3/auth/tokens{query}", json=body)


def token(server: Server, user: str = "admin", project: str | None = "admin") -> str:
    """A token for a bootstrap user (password from the data dir), project-scoped by default."""
    scope = project_scope(project) if project else "unscoped"
    r = issue(server, password_body(user, server.password(user), scope))
    assert r.status_code == 201, r.text
    return r.headers["X-Subject-Token"]


def validate(server: Server, auth_token: str, subject: str) -> httpx.Response:
    return httpx.get(
        f"{server.url}/v3/auth/tokens",
        headers={"X-Auth-Token": auth_token, "X-Subject-Token": subject},
    )


def call(server: Server, method: str, path: str, auth_token: str, **kw: Any) -> httpx.Response:
    headers = {"X-Auth-Token": auth_token, **kw.pop("headers", {})}
    return httpx.request(method, f"{server.url}{path}", headers=headers, **kw)
