"""The dashboard's security over plain HTTP: headers on every response, the session cookie,
CSRF refusal, escaping, login errors, logout revoking the token, a revoked token sending the
user to the login page with `next`, and another project's user seeing nothing."""

from __future__ import annotations

import importlib
import re
import uuid

import httpx
import openstack
from starlette.routing import Route

from overcast.dashboard.pages import ROUTE_MODULES
from tests.dashboard.conftest import WebSession, csrf_of
from tests.helpers.isolation import Tenant
from tests.helpers.server import Server


def _boot(conn: openstack.connection.Connection, name: str, image: str) -> str:
    """A server of `image` (the module's own: the shared cloud has other tests' images, some
    too big for m1.tiny)."""
    flavor = conn.compute.find_flavor("m1.tiny")
    server = conn.compute.create_server(
        name=name, flavor_id=flavor.id, image_id=image, networks="none"
    )
    return str(server.id)


def test_headers_on_every_response(server: Server, demo_web: WebSession) -> None:
    for response in (
        httpx.get(server.url + "/dashboard/auth/login"),
        demo_web.get("/project/"),
        httpx.get(server.url + "/dashboard/project/"),
        demo_web.get("/static/dashboard.css"),
    ):
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_session_cookie_is_httponly_samesite(server: Server) -> None:
    session = WebSession(server)
    response = session.login("demo", server.password("demo"))
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/dashboard" in cookie


def test_wrong_password_is_refused(server: Server) -> None:
    session = WebSession(server)
    response = session.login("demo", "not-the-password")
    assert response.status_code == 401
    assert "wrong" in response.text
    assert "overcast_dashboard=" not in response.headers.get("set-cookie", "")
    assert session.get("/project/").status_code == 303


def test_login_needs_its_csrf_token(server: Server) -> None:
    session = WebSession(server)
    session.get("/auth/login")
    response = session.http.post(
        "/auth/login",
        data={
            "csrf": "forged",
            "domain": "Default",
            "username": "demo",
            "password": server.password("demo"),
        },
    )
    assert response.status_code == 403


def test_forms_refuse_a_missing_or_wrong_csrf_token(
    demo: openstack.connection.Connection, demo_web: WebSession, image: str
) -> None:
    server_id = _boot(demo, f"csrf-{uuid.uuid4().hex[:6]}", image)
    for data, csrf in (({"action": "delete"}, False), ({"action": "delete", "csrf": "x"}, False)):
        response = demo_web.post(f"/project/instances/{server_id}/action", data, csrf=csrf)
        assert response.status_code == 403
    assert demo_web.get(f"/project/instances/{server_id}").status_code == 200
    assert demo_web.post("/auth/logout", csrf=False).status_code == 403
    assert demo_web.get("/project/").status_code == 200  # still signed in
    demo.compute.delete_server(server_id)


def test_no_form_works_without_its_csrf_token(demo_web: WebSession) -> None:
    """Every route that takes a POST, with made-up ids: refused before anything is looked at."""
    posts = [
        route.path
        for name in ROUTE_MODULES
        for route in importlib.import_module(f"overcast.dashboard.pages.{name}").routes
        if isinstance(route, Route) and "POST" in (route.methods or ())
    ]
    assert len(posts) > 40
    for path in posts:
        filled = re.sub(r"\{[^}]+\}", "x", path)
        for csrf in ("", "wrong"):
            answer = demo_web.post(filled, {"csrf": csrf} if csrf else {}, csrf=False)
            assert answer.status_code == 403, (path, answer.status_code)


def test_a_script_in_a_name_renders_as_text(
    demo: openstack.connection.Connection, demo_web: WebSession, image: str
) -> None:
    name = "<script>alert(1)</script>"
    server_id = _boot(demo, name, image)
    for path in ("/project/instances", f"/project/instances/{server_id}"):
        html = demo_web.get(path).text
        assert "<script>alert(1)" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    demo.compute.delete_server(server_id)


def test_logout_revokes_and_ends_the_session(server: Server) -> None:
    session = WebSession(server)
    assert session.login("demo", server.password("demo")).status_code == 303
    assert session.get("/project/").status_code == 200
    response = session.post("/auth/logout")
    assert response.status_code == 303
    after = session.get("/project/instances")
    assert after.status_code == 303 and "/auth/login" in after.headers["location"]


def test_a_revoked_token_goes_to_login_keeping_next(
    admin: openstack.connection.Connection,
    tenant_web: tuple[Tenant, WebSession],
) -> None:
    tenant, session = tenant_web
    assert session.get("/project/instances?status=ACTIVE").status_code == 200
    admin.identity.update_user(tenant.user_id, is_enabled=False)  # revokes the user's tokens
    response = session.get("/project/instances?status=ACTIVE")
    assert response.status_code == 303
    location = response.headers["location"]
    assert "/dashboard/auth/login?next=" in location
    assert "%2Fdashboard%2Fproject%2Finstances%3Fstatus%3DACTIVE" in location
    admin.identity.update_user(tenant.user_id, is_enabled=True)
    login = session.get(location.removeprefix("/dashboard"))
    assert 'value="/dashboard/project/instances?status=ACTIVE"' in login.text


def test_next_never_leaves_the_dashboard(server: Server) -> None:
    session = WebSession(server)
    page = session.get("/auth/login?next=https://evil.example/")
    response = session.http.post(
        "/auth/login",
        data={
            "csrf": csrf_of(page.text),
            "domain": "Default",
            "username": "demo",
            "password": server.password("demo"),
            "next": "//evil.example/x",
        },
    )
    assert response.headers["location"] == "/dashboard/project/"


def test_another_projects_user_sees_none_of_it(
    demo: openstack.connection.Connection,
    tenant_web: tuple[Tenant, WebSession],
    image: str,
) -> None:
    name = f"private-{uuid.uuid4().hex[:6]}"
    server_id = _boot(demo, name, image)
    _tenant, session = tenant_web
    assert name not in session.get("/project/instances").text
    detail = session.get(f"/project/instances/{server_id}")
    assert detail.status_code == 404 and name not in detail.text
    assert session.get(f"/project/instances/{server_id}/trace/stream").status_code == 404
    for drawing in ("/project/topology", "/project/topology.svg", "/project/"):
        assert name not in session.get(drawing).text
    refused = session.post(f"/project/instances/{server_id}/action", {"action": "delete"})
    assert refused.status_code in (303, 404)
    assert demo.compute.get_server(server_id).status != "DELETED"
    demo.compute.delete_server(server_id)


def test_switching_project_shows_the_other_projects_resources(
    admin: openstack.connection.Connection,
    demo: openstack.connection.Connection,
    tenant_web: tuple[Tenant, WebSession],
    image: str,
) -> None:
    tenant, session = tenant_web
    demo_project = admin.identity.find_project("demo")
    admin.identity.assign_project_role_to_user(
        demo_project, tenant.user_id, admin.identity.find_role("reader")
    )
    name = f"switch-{uuid.uuid4().hex[:6]}"
    server_id = _boot(demo, name, image)
    assert name not in session.get("/project/instances").text
    listed = session.get("/auth/projects").text
    assert "demo" in listed and tenant.project_name in listed
    refused = session.post("/auth/switch", {"project_id": demo_project.id}, csrf=False)
    assert refused.status_code == 403
    switched = session.post("/auth/switch", {"project_id": demo_project.id})
    assert switched.status_code == 303
    page = session.get("/project/instances").text
    assert name in page and "Project: <strong>demo</strong>" in page
    elsewhere = session.post("/auth/switch", {"project_id": "0" * 32})
    assert elsewhere.status_code in (401, 403, 404)
    assert name in session.get("/project/instances").text  # still in demo
    admin.identity.unassign_project_role_from_user(
        demo_project, tenant.user_id, admin.identity.find_role("reader")
    )
    demo.compute.delete_server(server_id)
