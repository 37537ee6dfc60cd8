"""`overcast up` registers the guest image as a public image through the image API: visible to
every project with its boot properties, bootable by name, and not duplicated on restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import openstack

from overcast.compute.guest import build, register
from tests.helpers.server import Server

from .conftest import GUEST_DIR


def _wait_for_image(conn: openstack.connection.Connection, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [i for i in conn.image.images(name="overcast-guest") if i.status == "active"]
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError("overcast-guest never became an active image")


def test_up_registers_the_guest_image_once(
    guest_image: build.Built, start_server: Callable[..., Server]
) -> None:
    env = {
        "OVERCAST_COMPUTE__DEFAULT_IMAGE": "overcast-guest",
        "OVERCAST_COMPUTE__GUEST_IMAGE_DIR": str(GUEST_DIR),
    }
    srv = start_server(env=env)
    (image,) = _wait_for_image(srv.connect("overcast-demo"))
    assert image.visibility == "public"
    assert (image.disk_format, image.container_format) == ("qcow2", "bare")
    assert image.size == guest_image.path.stat().st_size
    assert image.properties[register.KEY_PROPERTY] == guest_image.key
    assert image.hw_machine_type == register.PROPERTIES["hw_machine_type"]
    shown = srv.cli_json("image", "show", "overcast-guest", cloud="overcast-demo")
    assert shown["id"] == image.id

    srv.stop()
    srv.start()
    deadline = time.monotonic() + 120  # the check runs once the server listens
    while f"the guest image is public image overcast-guest ({image.id})" not in (
        srv.log.read_text()
    ):
        assert time.monotonic() < deadline, srv.log.read_text()[-2000:]
        time.sleep(0.5)
    again = _wait_for_image(srv.connect())
    assert [i.id for i in again] == [image.id]
