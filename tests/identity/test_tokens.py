"""Token issue, validation and revocation through the real clients."""

from __future__ import annotations

import httpx
import openstack.exceptions as osexc
import pytest

from tests.helpers.server import Server


def test_cli_token_issue(server: Server) -> None:
    token = server.cli_json("token", "issue")
    assert token["id"].startswith("gAAAA")
    assert token["project_id"]


def test_sdk_validates_and_revokes(server: Server, admin) -> None:
    demo = server.connect("overcast-demo")
    token = demo.auth_token
    info = admin.identity.validate_token(token)
    assert info.user["name"] == "demo"
    assert {r["name"] for r in info.roles} >= {"member", "reader"}
    admin.identity.revoke_token(token)
    with pytest.raises(osexc.NotFoundException):
        admin.identity.validate_token(token)


def test_wrong_password_and_unknown_user_look_the_same(server: Server) -> None:
    def attempt(user: str) -> httpx.Response:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": user, "domain": {"id": "default"}, "password": "wrong"}
                    },
                }
            }
        }
        return httpx.post(server.url + "/v3/auth/tokens", json=body)

    known, unknown = attempt("admin"), attempt("nobody-here")
    assert known.status_code == unknown.status_code == 401
    assert known.json() == unknown.json()
    assert known.json()["error"]["code"] == 401


def test_tampered_token_refused(server: Server) -> None:
    token = server.connect("overcast-demo").auth_token
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    r = httpx.get(
        server.url + "/v3/auth/tokens",
        headers={"X-Auth-Token": tampered, "X-Subject-Token": tampered},
    )
    assert r.status_code == 401
    assert r.headers["x-openstack-request-id"].startswith("req-")
