"""Bad input to the token, catalog and application credential APIs: always a 4xx Keystone error
body, never a 500, and nothing changed."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.server import Server
from tests.identity import raw

LONG = "x" * 5000


def _keystone_error(r: httpx.Response, status: int | tuple[int, ...]) -> None:
    wanted = status if isinstance(status, tuple) else (status,)
    assert r.status_code in wanted, (r.request.url, r.status_code, r.text)
    error = r.json()["error"]
    assert error["code"] == r.status_code and error["title"] and error["message"]


def _state(server: Server, token: str) -> dict[str, Any]:
    uid = raw.validate(server, token, token).json()["token"]["user"]["id"]
    paths = (
        "/v3/regions",
        "/v3/services",
        "/v3/endpoints",
        f"/v3/users/{uid}/application_credentials",
    )
    return {p: raw.call(server, "GET", p, token).json() for p in paths}


def test_token_requests(server: Server) -> None:
    url = server.url + "/v3/auth/tokens"
    json_type = {"Content-Type": "application/json"}
    cases: list[tuple[Any, int]] = [
        (b"{not json", 400),
        (b"[]", 400),
        (b'"auth"', 400),
        ({}, 400),
        ({"auth": []}, 400),
        ({"auth": {"identity": "password"}}, 400),
        ({"auth": {"identity": {"methods": "password"}}}, 400),
        ({"auth": {"identity": {"methods": []}}}, 400),
        ({"auth": {"identity": {"methods": ["password"]}}}, 400),
        ({"auth": {"identity": {"methods": ["password"], "password": {"user": {}}}}}, 400),
        (raw.password_body(LONG, "x"), 400),
        (raw.password_body("demo", 123), 400),  # type: ignore[arg-type]
        (raw.password_body("demo", server.password("demo"), scope=[]), 400),
        (raw.password_body("admin", server.password("admin"), {"project": {}}), 400),
        (raw.password_body("admin", server.password("admin"), {"system": {"all": 1}}), 400),
        (raw.password_body("admin", server.password("admin"), {"galaxy": {}}), 400),
        ({"auth": {"identity": {"methods": ["kerberos"], "kerberos": {}}}}, 401),
        ({"auth": {"identity": {"methods": ["token"], "token": {"id": "junk"}}}}, 401),
        (raw.password_body("admin", server.password("admin"), raw.project_scope("nope")), 401),
    ]
    for body, status in cases:
        if isinstance(body, bytes):
            r = httpx.post(url, content=body, headers=json_type)
        else:
            r = httpx.post(url, json=body)
        _keystone_error(r, status)


def test_oversized_bodies(server: Server) -> None:
    big = b'{"auth": "' + b"a" * 200_000 + b'"}'
    for headers in ({"Content-Type": "application/json"}, {"Content-Type": "text/plain"}, {}):
        r = httpx.post(server.url + "/v3/auth/tokens", content=big, headers=headers)
        _keystone_error(r, 413)
    token = raw.token(server)
    r = raw.call(server, "POST", "/v3/regions", token, content=big)
    _keystone_error(r, 413)


def test_resource_requests_change_nothing(server: Server) -> None:
    token = raw.token(server)
    before = _state(server, token)
    uid = raw.validate(server, token, token).json()["token"]["user"]["id"]
    creds = f"/v3/users/{uid}/application_credentials"
    service_id = before["/v3/services"]["services"][0]["id"]
    endpoint = {"service_id": service_id, "interface": "public", "url": "http://x/"}
    cases: list[tuple[str, str, Any, int | tuple[int, ...]]] = [
        ("POST", "/v3/regions", b"{", 400),
        ("POST", "/v3/regions", {"region": "r"}, 400),
        ("POST", "/v3/regions", {"region": {"id": 7}}, 400),
        ("POST", "/v3/regions", {"region": {"description": LONG}}, 400),
        ("POST", "/v3/regions", {"region": {"id": LONG}}, 400),
        ("PUT", "/v3/regions/a", {"region": {"id": "b"}}, 400),
        ("PATCH", "/v3/regions/RegionOne", {"region": {"parent_region_id": "RegionOne"}}, 400),
        ("PATCH", "/v3/regions/nope", {"region": {}}, 404),
        ("GET", "/v3/regions/" + "z" * 3000, None, 404),
        ("DELETE", "/v3/regions/nope", None, 404),
        ("POST", "/v3/services", {"service": {}}, 400),
        ("POST", "/v3/services", {"service": {"type": "x", "enabled": "yes"}}, 400),
        ("POST", "/v3/services", {"service": {"type": LONG}}, 400),
        ("PATCH", f"/v3/services/{service_id}", {"service": {"type": None}}, 400),
        ("PATCH", "/v3/services/nope", {"service": {"name": "x"}}, 404),
        ("DELETE", "/v3/services/nope", None, 404),
        ("POST", "/v3/endpoints", {"endpoint": {**endpoint, "enabled": 1}}, 400),
        ("POST", "/v3/endpoints", {"endpoint": {**endpoint, "url": "http://" + LONG}}, 400),
        ("POST", "/v3/endpoints", {"endpoint": {**endpoint, "region_id": None, "x": 1}}, 201),
        ("GET", "/v3/endpoints/nope", None, 404),
        ("POST", creds, {"application_credential": {}}, 400),
        ("POST", creds, {"application_credential": {"name": "a", "roles": "admin"}}, 400),
        ("POST", creds, {"application_credential": {"name": "a", "roles": [{}]}}, 400),
        ("POST", creds, {"application_credential": {"name": "a", "expires_at": "soon"}}, 400),
        ("POST", creds, {"application_credential": {"name": "a", "surprise": 1}}, 400),
        ("POST", creds, {"application_credential": {"name": LONG}}, 400),
        ("POST", creds, {"application_credential": {"name": "a", "secret": ""}}, 400),
        ("GET", f"{creds}/nope", None, 404),
        ("DELETE", f"{creds}/nope", None, 404),
        ("GET", "/v3/no-such-thing", None, 404),
        ("POST", "/v3/regions", {"region": {"description": "nul \u0000 byte"}}, 400),
    ]
    made_endpoint = None
    for method, path, body, status in cases:
        kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
        r = raw.call(server, method, path, token, **kwargs)
        if status == 201:  # unknown attributes are kept, as Keystone keeps them
            assert r.status_code == 201, r.text
            made_endpoint = r.json()["endpoint"]
            assert made_endpoint["x"] == 1
            continue
        _keystone_error(r, status)
    assert made_endpoint is not None
    raw.call(server, "DELETE", f"/v3/endpoints/{made_endpoint['id']}", token)
    assert _state(server, token) == before


def test_subject_token_garbage(server: Server) -> None:
    token = raw.token(server)
    for subject in ("", "junk", "gAAAAA" + "A" * 200, LONG):
        r = raw.call(server, "GET", "/v3/auth/tokens", token, headers={"X-Subject-Token": subject})
        _keystone_error(r, 404)
