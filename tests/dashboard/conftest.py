"""Fixtures for the dashboard tests: a signed-in web session (plain HTTP, as a browser without
script would be) for the bootstrap users and for fresh tenants."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import httpx
import openstack
import pytest

from tests.dashboard.browser import browser  # noqa: F401 - the browser suite's fixture
from tests.helpers.isolation import Tenant
from tests.helpers.server import Server

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class WebSession:
    """A cookie jar signed in to the dashboard; `csrf` is the session's form token."""

    def __init__(self, server: Server) -> None:
        self.base = server.url + "/dashboard"
        self.http = httpx.Client(base_url=self.base, follow_redirects=False, timeout=30)
        self.csrf = ""

    def login(self, username: str, password: str, domain: str = "Default") -> httpx.Response:
        page = self.http.get("/auth/login")
        token = csrf_of(page.text)
        response = self.http.post(
            "/auth/login",
            data={"csrf": token, "domain": domain, "username": username, "password": password},
        )
        if response.status_code == 303:
            self.csrf = csrf_of(self.get("/project/").text)
        return response

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.http.get(path, **kwargs)  # type: ignore[arg-type]

    def post(
        self, path: str, data: dict[str, str] | None = None, csrf: bool = True
    ) -> httpx.Response:
        form = dict(data or {})
        if csrf:
            form["csrf"] = self.csrf
        return self.http.post(path, data=form)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


@pytest.fixture(scope="module")
def image(admin: openstack.connection.Connection) -> str:
    """A public image anyone can boot (the fake driver needs no real disk)."""
    found = admin.image.find_image("dash-img")
    if found is None:
        found = admin.image.create_image(
            name="dash-img",
            disk_format="raw",
            container_format="bare",
            visibility="public",
            data=b"\0" * 4096,
        )
    return str(found.id)


@pytest.fixture
def web(server: Server) -> Iterator[Callable[[str, str], WebSession]]:
    """Sign in as (user, password); every session is closed at the end."""
    made: list[WebSession] = []

    def login(username: str, password: str) -> WebSession:
        session = WebSession(server)
        response = session.login(username, password)
        assert response.status_code == 303, response.text
        made.append(session)
        return session

    yield login
    for session in made:
        session.http.close()


@pytest.fixture
def demo_web(server: Server, web: Callable[[str, str], WebSession]) -> WebSession:
    return web("demo", server.password("demo"))


@pytest.fixture
def admin_web(server: Server, web: Callable[[str, str], WebSession]) -> WebSession:
    return web("admin", server.password("admin"))


@pytest.fixture
def tenant_web(
    tenant_factory: Callable[..., Tenant], web: Callable[[str, str], WebSession]
) -> tuple[Tenant, WebSession]:
    tenant = tenant_factory()
    return tenant, web(tenant.user_name, tenant.password)
