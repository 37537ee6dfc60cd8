"""Fixtures for the compute tests: a public image to boot from, and waiting helpers."""

from __future__ import annotations

import time
import uuid
from typing import Any

import openstack
import pytest


@pytest.fixture(scope="session")
def cirros(admin: openstack.connection.Connection) -> Any:
    """A small public image every project may boot."""
    return admin.image.create_image(
        name=f"cirros-{uuid.uuid4().hex[:6]}",
        data=b"\0" * 65536,
        disk_format="raw",
        container_format="bare",
        visibility="public",
        allow_duplicates=True,
    )


def wait_for(
    conn: openstack.connection.Connection, server_id: str, *statuses: str, timeout: float = 20.0
) -> Any:
    """Poll (every 50 ms) until the server shows one of `statuses` with no task."""
    deadline = time.monotonic() + timeout
    server = None
    while time.monotonic() < deadline:
        server = conn.compute.get_server(server_id)
        if server.status in statuses and not server.task_state:
            return server
        time.sleep(0.05)
    raise AssertionError(f"server {server_id} stuck in {server and server.status}")


def wait_gone(conn: openstack.connection.Connection, server_id: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if conn.compute.find_server(server_id, ignore_missing=True) is None:
            return
        time.sleep(0.05)
    raise AssertionError(f"server {server_id} was not deleted")


def boot(
    conn: openstack.connection.Connection,
    image: Any,
    name: str | None = None,
    flavor: str = "1",
    **attrs: Any,
) -> Any:
    attrs.setdefault("networks", "none")
    return conn.compute.create_server(
        name=name or f"vm-{uuid.uuid4().hex[:6]}", image_id=image.id, flavor_id=flavor, **attrs
    )
