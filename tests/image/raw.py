"""Raw Glance calls for the cases no client call covers: malformed input, exact bodies and
headers, and uploads that stop half-way."""

from __future__ import annotations

import html
import socket
from typing import Any
from urllib.parse import urlparse

import httpx
import openstack


def endpoint(conn: openstack.connection.Connection) -> str:
    """The image API's versioned root, e.g. http://127.0.0.1:5000/image/v2."""
    return conn.image.get_endpoint().rstrip("/")


def call(
    conn: openstack.connection.Connection, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    headers = {"X-Auth-Token": conn.auth_token, **kwargs.pop("headers", {})}
    return httpx.request(method, endpoint(conn) + path, headers=headers, timeout=30, **kwargs)


def assert_glance_error(response: httpx.Response, status: int, text: str = "") -> None:
    """Glance's webob error page: the status in the title and the explanation in the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert f"<h1>{status} " in response.text
    assert text in html.unescape(response.text), response.text


def open_upload(
    conn: openstack.connection.Connection, image_id: str, total: int, first: bytes
) -> socket.socket:
    """Start `PUT /file` announcing `total` bytes, send `first`, and leave the socket open."""
    url = urlparse(f"{endpoint(conn)}/images/{image_id}/file")
    sock = socket.create_connection((url.hostname, url.port))
    head = (
        f"PUT {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nX-Auth-Token: {conn.auth_token}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {total}\r\n\r\n"
    )
    sock.sendall(head.encode() + first)
    return sock
