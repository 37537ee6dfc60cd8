"""Raw network API calls for what no client call covers: malformed input, exact error bodies
(`{"NeutronError": {"type", "message", "detail"}}`) and headers such as If-Match."""

from __future__ import annotations

from typing import Any

import httpx
import openstack


def endpoint(conn: openstack.connection.Connection) -> str:
    """The network API's root as the catalog gives it, e.g. http://127.0.0.1:5000/network."""
    found: str = conn.session.get_endpoint(service_type="network", interface="public")
    return found.rstrip("/")


def call(
    conn: openstack.connection.Connection, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    headers = {"X-Auth-Token": conn.auth_token, **kwargs.pop("headers", {})}
    return httpx.request(method, endpoint(conn) + path, headers=headers, timeout=30, **kwargs)


def assert_error(response: httpx.Response, status: int, kind: str | None = None) -> dict[str, Any]:
    """Neutron's error body with `status` (and type `kind`); returns the error."""
    assert response.status_code == status, response.text
    body = response.json()["NeutronError"]
    assert set(body) == {"type", "message", "detail"}, body
    assert body["message"]
    if kind is not None:
        assert body["type"] == kind, body
    return dict(body)
