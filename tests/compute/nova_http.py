"""Raw compute API calls at a chosen microversion, and checks of Nova's error bodies."""

from __future__ import annotations

from typing import Any

import openstack

LATEST = "2.96"


def call(
    conn: openstack.connection.Connection,
    method: str,
    path: str,
    version: str = LATEST,
    body: Any = None,
) -> Any:
    """The `requests` response of one call (errors are returned, not raised)."""
    kwargs: dict[str, Any] = {"microversion": version, "raise_exc": False}
    if body is not None:
        kwargs["json"] = body
    return conn.compute.request(path, method.upper(), **kwargs)


_KEYS = {400: "badRequest", 403: "forbidden", 404: "itemNotFound", 409: "conflictingRequest"}


def fault(response: Any, status: int, contains: str = "") -> str:
    """Assert a Nova error body with `status`; return its message."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    key = _KEYS[status]
    assert list(body) == [key], body
    assert body[key]["code"] == status
    message = str(body[key]["message"])
    assert contains in message, message
    return message
