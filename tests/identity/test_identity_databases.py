"""The identity flow on PostgreSQL and MariaDB: a fresh database each, a private server on it.

Skipped only when the database server is unreachable (127.0.0.1:5432 trust/postgres,
127.0.0.1:3306 root without a password).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import openstack
import pytest

from tests.helpers import databases
from tests.helpers.server import Server
from tests.identity import raw

pytestmark = pytest.mark.db


@pytest.fixture(params=["postgresql", "mariadb"])
def db_server(request, start_server: Callable[..., Server]) -> Iterator[Server]:
    kind = request.param
    if not databases.reachable(kind):
        pytest.skip(f"{kind} is not reachable on 127.0.0.1:{databases.PORTS[kind]}")
    with databases.fresh(kind) as url:
        srv = start_server(env={"OVERCAST_DATABASE_URL": url})
        try:
            yield srv
        finally:
            srv.stop()


def test_identity_flow(db_server: Server) -> None:
    srv = db_server
    admin = raw.token(srv)
    # Revocation holds to the microsecond: tokens revoked in the second they were issued.
    for _ in range(3):
        demo = raw.token(srv, "demo", "demo")
        assert raw.validate(srv, admin, demo).status_code == 200
        r = raw.call(srv, "DELETE", "/v3/auth/tokens", admin, headers={"X-Subject-Token": demo})
        assert r.status_code == 204
        assert raw.validate(srv, admin, demo).status_code == 404
        assert raw.call(srv, "GET", "/v3/auth/projects", demo).status_code == 401

    conn = srv.connect("overcast")
    project = conn.identity.create_project(name="p-db", domain_id="default", description="é ✓")
    user = conn.identity.create_user(
        name="u-db", password="pw-db-1", domain_id="default", default_project_id=project.id
    )
    conn.identity.assign_project_role_to_user(project, user, conn.identity.find_role("member"))
    scope = raw.project_scope("p-db")
    issued = raw.issue(srv, raw.password_body("u-db", "pw-db-1", scope))
    assert issued.status_code == 201, issued.text
    token = issued.headers["X-Subject-Token"]
    assert {r["name"] for r in issued.json()["token"]["roles"]} == {"member", "reader"}

    path = f"/v3/users/{user.id}/application_credentials"
    body = {"application_credential": {"name": "ci", "expires_at": "2999-01-01T00:00:00"}}
    cred = raw.call(srv, "POST", path, token, json=body).json()["application_credential"]
    app = openstack.connect(
        auth_type="v3applicationcredential",
        auth={
            "auth_url": srv.url + "/v3",
            "application_credential_id": cred["id"],
            "application_credential_secret": cred["secret"],
        },
    )
    app_token = app.auth_token
    assert raw.validate(srv, admin, app_token).json()["token"]["project"]["id"] == project.id
    assert raw.call(srv, "DELETE", f"{path}/{cred['id']}", token).status_code == 204
    assert raw.call(srv, "GET", "/v3/auth/projects", app_token).status_code == 401

    region = conn.identity.create_region(id="Région-✓", description="ü" * 255)
    service = conn.identity.create_service(type="volumev3", name="cinder")
    conn.identity.create_endpoint(
        service_id=service.id, interface="public", url="http://v:8776/v3", region_id=region.id
    )
    assert [e.url for e in conn.identity.endpoints(region_id=region.id)] == ["http://v:8776/v3"]
    assert conn.identity.get_region(region.id).description == "ü" * 255

    for method, url, status in (
        ("GET", "/v3/regions/%00", 400),
        ("GET", "/v3/services?name=%00", 400),
        ("GET", "/v3/regions/" + "z" * 3000, 404),
        ("POST", "/v3/regions", 400),
    ):
        kwargs = {"json": {"region": {"id": "x" * 300}}} if method == "POST" else {}
        r = raw.call(srv, method, url, admin, **kwargs)
        assert r.status_code == status, (url, r.text)
    assert "Traceback" not in srv.log.read_text()
