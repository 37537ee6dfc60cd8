"""What the multi-node modules share: a cloud of `serve` nodes, each a namespace host of its
own, and booting on the fake driver."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest

from tests.helpers import fabric, nodes


@contextlib.contextmanager
def hosted_cloud(root: Path, **settings: str) -> Iterator[nodes.Cloud]:
    """A fresh cloud whose nodes are namespace hosts (skips where that cannot run)."""
    reason = nodes.unavailable() or fabric.usable()
    if reason:
        pytest.skip(reason)
    with fabric.fabric() as hosts, nodes.cloud(root, hosts, **settings) as made:
        yield made


def tiny_image(conn: openstack.connection.Connection) -> Any:
    return conn.image.create_image(
        name="tiny",
        data=b"\0" * 4096,
        disk_format="raw",
        container_format="bare",
        visibility="public",
    )


def boot(conn: openstack.connection.Connection, image: Any, name: str, **extra: Any) -> Any:
    flavor = conn.compute.find_flavor("m1.tiny")
    return conn.compute.create_server(
        name=name, image_id=image.id, flavor_id=flavor.id, networks="none", **extra
    )


def host_of(conn: openstack.connection.Connection, server_id: str) -> str:
    return str(conn.compute.get_server(server_id).compute_host)
