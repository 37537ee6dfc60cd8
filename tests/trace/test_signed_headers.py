"""Asking for a trace as osprofiler's clients do: X-Trace-Info (base64 JSON of base_id and
parent_id) signed in X-Trace-HMAC with a key the operator configured. With workflows not traced
by default (`trace.enabled = false`), only signed requests are; a wrong signature or garbage
is ignored, never an error, and injects nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

import openstack

from tests.helpers.server import Server


def headers(key: str, base_id: str, parent_id: str) -> dict[str, str]:
    info = base64.urlsafe_b64encode(
        json.dumps({"base_id": base_id, "parent_id": parent_id}).encode()
    )
    signature = hmac.new(key.encode(), info, hashlib.sha256).hexdigest()
    return {"X-Trace-Info": info.decode(), "X-Trace-HMAC": signature}


def create(conn: openstack.connection.Connection, image: Any, extra: dict[str, str]) -> str:
    body = {
        "server": {
            "name": f"vm-{uuid.uuid4().hex[:6]}",
            "imageRef": image.id,
            "flavorRef": "1",
            "networks": "none",
        }
    }
    response = conn.compute.post("/servers", json=body, headers=extra, microversion="2.37")
    assert response.status_code == 202, response.text
    return str(response.json()["server"]["id"])


def trace_status(conn: openstack.connection.Connection, server_id: str) -> tuple[int, Any]:
    time.sleep(0.3)  # past the recorder's write
    response = conn.compute.get(f"/servers/{server_id}/trace")
    return response.status_code, response.json()


def test_only_signed_requests_are_traced(start_server: Callable[..., Server]) -> None:
    server = start_server(
        {"OVERCAST_TRACE__ENABLED": "false", "OVERCAST_TRACE__HMAC_KEYS": '["client-key"]'}
    )
    admin = server.connect()
    image = admin.image.create_image(
        name="tiny", data=b"\0" * 4096, disk_format="raw", container_format="bare"
    )
    plain = create(admin, image, {})
    status, body = trace_status(admin, plain)
    assert status == 404 and "No trace was recorded" in body["itemNotFound"]["message"]

    base_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    signed = create(admin, image, headers("client-key", base_id, parent_id))
    status, body = trace_status(admin, signed)
    assert status == 200
    assert body["trace"]["id"] == base_id
    roots = [s for s in body["trace"]["spans"] if s["parent"] == parent_id]
    assert [s["kind"] for s in roots] == ["wsgi"]
    assert "token checked" in [s["name"] for s in body["trace"]["spans"]]

    for bad in (
        headers("wrong-key", secrets.token_hex(16), secrets.token_hex(8)),
        {"X-Trace-Info": "garbage", "X-Trace-HMAC": "00"},
        {**headers("client-key", "not hex!", "x"), "X-Trace-HMAC": "f" * 64},
    ):
        ignored = create(admin, image, bad)
        status, _body = trace_status(admin, ignored)
        assert status == 404
    # a signed request's ids that are not hex are refused too, signature or not
    odd = headers("client-key", "zz" * 16, "yy" * 8)
    status, _body = trace_status(admin, create(admin, image, odd))
    assert status == 404
