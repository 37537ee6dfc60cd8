"""Security properties of authentication: uniform failures, disabling, tampering, isolation,
lockout, and secrets kept out of responses and logs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import openstack.exceptions as osexc
import pytest

from tests.helpers.isolation import Tenant, assert_hidden
from tests.helpers.server import Server
from tests.identity import raw


def test_failures_look_the_same_whether_or_not_the_user_exists(server: Server) -> None:
    demo_id = raw.validate(server, raw.token(server), raw.token(server, "demo", "demo")).json()[
        "token"
    ]["user"]["id"]
    bodies = [
        raw.password_body("demo", "wrong"),
        raw.password_body("no-such-user", "wrong"),
        raw.password_body("demo", "wrong", domain="no-such-domain"),
        {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"id": demo_id, "password": "wrong"}},
                }
            }
        },
        {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"id": uuid.uuid4().hex, "password": "wrong"}},
                }
            }
        },
    ]
    answers = [raw.issue(server, body) for body in bodies]
    assert {r.status_code for r in answers} == {401}
    assert len({r.text for r in answers}) == 1
    assert all(r.headers["www-authenticate"].startswith("Keystone uri=") for r in answers)


def test_tampered_and_foreign_tokens_refused(
    server: Server, start_server: Callable[..., Server]
) -> None:
    admin = raw.token(server)
    good = raw.token(server, "demo", "demo")
    middle = len(good) // 2
    flipped = good[:middle] + ("A" if good[middle] != "A" else "B") + good[middle + 1 :]
    foreign = raw.token(start_server(), "demo", "demo")  # right shape, another cloud's keys
    for bad in (flipped, good[:-10], good + "AAAA", "gAAAAA", "x" * 300, foreign):
        assert raw.call(server, "GET", "/v3/auth/projects", bad).status_code == 401
        assert raw.validate(server, admin, bad).status_code == 404


def test_disabling_user_project_or_domain_ends_tokens(
    server: Server, admin, tenant_factory: Callable[..., Tenant]
) -> None:
    cases = [
        ("user", lambda t: admin.identity.update_user(t.user_id, is_enabled=False)),
        ("project", lambda t: admin.identity.update_project(t.project_id, is_enabled=False)),
    ]
    for what, disable in cases:
        tenant = tenant_factory()
        token = tenant.conn.auth_token
        assert raw.call(server, "GET", "/v3/auth/projects", token).status_code == 200  # cached
        disable(tenant)
        assert raw.call(server, "GET", "/v3/auth/projects", token).status_code == 401, what
        body = raw.password_body(
            tenant.user_name, tenant.password, raw.project_scope(tenant.project_name)
        )
        assert raw.issue(server, body).status_code == 401, what
    domain = admin.identity.create_domain(name=f"d-{uuid.uuid4().hex[:8]}")
    password = uuid.uuid4().hex
    user = admin.identity.create_user(name="u", password=password, domain_id=domain.id)
    project = admin.identity.create_project(name="p", domain_id=domain.id)
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("member"))
    body = raw.password_body("u", password, raw.project_scope("p", domain.name), domain=domain.name)
    token = raw.issue(server, body).headers["X-Subject-Token"]
    assert raw.call(server, "GET", "/v3/auth/projects", token).status_code == 200
    admin.identity.update_domain(domain, is_enabled=False)
    assert raw.call(server, "GET", "/v3/auth/projects", token).status_code == 401
    assert raw.issue(server, body).status_code == 401


def test_project_token_never_reads_another_project(
    server: Server, tenant_factory: Callable[..., Tenant]
) -> None:
    a, b = tenant_factory(), tenant_factory()
    assert_hidden(
        lambda: a.conn.identity.get_project(b.project_id),
        lambda: a.conn.identity.get_user(b.user_id),
        lambda: list(a.conn.identity.application_credentials(user=b.user_id)),
        lambda: a.conn.identity.validate_token(b.conn.auth_token),
    )
    projects = raw.call(server, "GET", "/v3/auth/projects", a.conn.auth_token).json()["projects"]
    assert [p["id"] for p in projects] == [a.project_id]
    scope = raw.project_scope(b.project_name)
    assert raw.issue(server, raw.password_body(a.user_name, a.password, scope)).status_code == 401


def test_password_hashes_never_returned(server: Server, admin) -> None:
    token = raw.token(server)
    for path in ("/v3/users", "/v3/users?name=demo", "/v3/auth/projects"):
        r = raw.call(server, "GET", path, token)
        assert r.status_code == 200 and "$2b$" not in r.text and '"password":' not in r.text
    demo = admin.identity.find_user("demo", domain_id="default")
    shown = raw.call(server, "GET", f"/v3/users/{demo.id}", token)
    assert shown.status_code == 200 and "$2b$" not in shown.text
    validated = raw.validate(server, token, raw.token(server, "demo", "demo"))
    assert "$2b$" not in validated.text and '"password":' not in validated.text


def test_lockout_after_failed_logins(start_server: Callable[..., Server]) -> None:
    srv = start_server(
        env={
            "OVERCAST_IDENTITY__LOCKOUT_FAILURE_ATTEMPTS": "3",
            "OVERCAST_IDENTITY__LOCKOUT_DURATION": "2",
        }
    )
    right = raw.password_body("demo", srv.password("demo"))
    wrong = raw.issue(srv, raw.password_body("demo", "wrong"))
    for _ in range(2):
        assert raw.issue(srv, raw.password_body("demo", "wrong")).status_code == 401
    locked = raw.issue(srv, right)
    assert locked.status_code == 401
    assert locked.text == wrong.text  # a lockout does not tell that the account exists
    assert raw.issue(srv, raw.password_body("admin", srv.password("admin"))).status_code == 201
    time.sleep(2.1)
    assert raw.issue(srv, right).status_code == 201


def test_secrets_never_logged(start_server: Callable[..., Server]) -> None:
    srv = start_server(env={"OVERCAST_LOG_LEVEL": "DEBUG"})
    password = srv.password("demo")
    token = raw.token(srv, "demo", "demo")
    raw.issue(srv, raw.password_body("demo", "wrong-horse-battery"))
    uid = raw.validate(srv, token, token).json()["token"]["user"]["id"]
    body = {"application_credential": {"name": "logged", "secret": "app-secret-xyzzy"}}
    r = raw.call(srv, "POST", f"/v3/users/{uid}/application_credentials", token, json=body)
    assert r.status_code == 201
    httpx.post(srv.url + "/v3/auth/tokens", content=b'{"auth": "' + password.encode() + b'"}')
    srv.stop()
    log = srv.log.read_text()
    assert '"level": "DEBUG"' in log  # the log really was verbose
    for secret in (password, token, "wrong-horse-battery", "app-secret-xyzzy"):
        assert secret not in log


def test_sdk_sees_unauthorized_for_bad_password(server: Server) -> None:
    conn = server.connect("overcast-demo", auth={"password": "wrong"})
    with pytest.raises(osexc.SDKException) as info:
        conn.authorize()
    assert "HTTP 401" in str(info.value)
