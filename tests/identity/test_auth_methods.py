"""POST /v3/auth/tokens with each method and scope; GET/HEAD/DELETE; the /v3/auth/* listings."""

from __future__ import annotations

import httpx

from tests.helpers.server import Server
from tests.identity import raw


def _user_id(server: Server, user: str) -> str:
    body = raw.issue(server, raw.password_body(user, server.password(user), "unscoped")).json()
    return str(body["token"]["user"]["id"])


def test_password_by_id_and_by_name_with_domain_id(server: Server) -> None:
    uid = _user_id(server, "demo")
    by_id = {"id": uid, "password": server.password("demo")}
    by_name = {"name": "demo", "domain": {"id": "default"}, "password": server.password("demo")}
    for user in (by_id, by_name):
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}
        r = raw.issue(server, body)
        assert r.status_code == 201, r.text
        token = r.json()["token"]
        assert token["user"]["id"] == uid
        assert token["project"]["name"] == "demo"  # the default project scopes a bare login
        assert {role["name"] for role in token["roles"]} >= {"member", "reader"}
        assert any(s["type"] == "identity" for s in token["catalog"])


def test_unscoped_token_has_no_roles_or_catalog(server: Server) -> None:
    r = raw.issue(server, raw.password_body("demo", server.password("demo"), "unscoped"))
    token = r.json()["token"]
    assert "roles" not in token and "catalog" not in token and "project" not in token
    scoped = raw.token(server, "demo", "demo")
    # An unscoped token may list its scopes but not the catalog.
    unscoped = r.headers["X-Subject-Token"]
    assert raw.call(server, "GET", "/v3/auth/catalog", unscoped).status_code == 403
    assert raw.call(server, "GET", "/v3/auth/catalog", scoped).json()["catalog"]
    projects = raw.call(server, "GET", "/v3/auth/projects", unscoped).json()["projects"]
    assert "demo" in [p["name"] for p in projects] and "admin" not in [p["name"] for p in projects]
    assert raw.call(server, "GET", "/v3/auth/system", unscoped).json()["system"] == []
    assert raw.call(server, "GET", "/v3/auth/domains", unscoped).json()["domains"] == []


def test_token_method_rescopes_and_keeps_the_chain(server: Server) -> None:
    first = raw.issue(server, raw.password_body("admin", server.password("admin"), "unscoped"))
    unscoped = first.headers["X-Subject-Token"]
    body = {
        "auth": {
            "identity": {"methods": ["token"], "token": {"id": unscoped}},
            "scope": raw.project_scope("admin"),
        }
    }
    r = raw.issue(server, body)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert token["project"]["name"] == "admin"
    assert token["expires_at"] == first.json()["token"]["expires_at"]
    assert token["audit_ids"][1] == first.json()["token"]["audit_ids"][0]


def test_system_scope_for_admin_only(server: Server) -> None:
    scope = {"system": {"all": True}}
    r = raw.issue(server, raw.password_body("admin", server.password("admin"), scope))
    assert r.status_code == 201
    assert r.json()["token"]["system"] == {"all": True}
    assert "admin" in {role["name"] for role in r.json()["token"]["roles"]}
    assert raw.call(server, "GET", "/v3/auth/system", r.headers["X-Subject-Token"]).json()[
        "system"
    ] == [{"all": True}]
    refused = raw.issue(server, raw.password_body("demo", server.password("demo"), scope))
    assert refused.status_code == 401


def test_domain_scope(server: Server, admin) -> None:
    user = admin.identity.find_user("admin", domain_id="default")
    role = admin.identity.find_role("reader")
    admin.identity.assign_domain_role_to_user("default", user, role)
    try:
        scope = {"domain": {"name": "Default"}}
        r = raw.issue(server, raw.password_body("admin", server.password("admin"), scope))
        assert r.status_code == 201, r.text
        token = r.json()["token"]
        assert token["domain"] == {"id": "default", "name": "Default"}
        assert "catalog" in token and "project" not in token
        domains = raw.call(server, "GET", "/v3/auth/domains", r.headers["X-Subject-Token"])
        assert [d["id"] for d in domains.json()["domains"]] == ["default"]
    finally:
        admin.identity.unassign_domain_role_from_user("default", user, role)


def test_nocatalog(server: Server) -> None:
    body = raw.password_body("demo", server.password("demo"), raw.project_scope("demo"))
    r = raw.issue(server, body, "?nocatalog")
    assert r.status_code == 201 and "catalog" not in r.json()["token"]
    subject = r.headers["X-Subject-Token"]
    admin = raw.token(server)
    full = httpx.get(
        server.url + "/v3/auth/tokens",
        headers={"X-Auth-Token": admin, "X-Subject-Token": subject},
    ).json()["token"]
    bare = httpx.get(
        server.url + "/v3/auth/tokens?nocatalog",
        headers={"X-Auth-Token": admin, "X-Subject-Token": subject},
    ).json()["token"]
    assert "catalog" in full and "catalog" not in bare


def test_head_get_delete_and_revocation_everywhere(server: Server) -> None:
    admin = raw.token(server)
    demo = raw.token(server, "demo", "demo")
    assert raw.call(server, "GET", "/v3/auth/projects", demo).status_code == 200  # now cached
    head = raw.call(server, "HEAD", "/v3/auth/tokens", admin, headers={"X-Subject-Token": demo})
    assert head.status_code == 200
    # A user may check their own token, not someone else's.
    assert raw.validate(server, demo, demo).status_code == 200
    assert raw.validate(server, demo, admin).status_code == 403
    r = raw.call(server, "DELETE", "/v3/auth/tokens", admin, headers={"X-Subject-Token": demo})
    assert r.status_code == 204
    assert raw.validate(server, admin, demo).status_code == 404
    refused = raw.call(server, "GET", "/v3/auth/projects", demo)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == 401
    rescope = {"auth": {"identity": {"methods": ["token"], "token": {"id": demo}}}}
    assert raw.issue(server, rescope).status_code == 401


def test_cli_catalog_list(server: Server) -> None:
    names = server.cli_json("catalog", "list", cloud="overcast-demo")
    assert "keystone" in {entry["Name"] for entry in names}
