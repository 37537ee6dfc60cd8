"""What the multi-node modules share: a cloud of `serve` nodes, each a namespace host of its
own, booting on the fake driver, and one cloud on the qemu driver for the modules with real
guests (`qemu_nodes`)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest

from overcast.compute.guest import build
from tests.compute.qemu.conftest import GUEST_DIR, qemu_pids
from tests.helpers import fabric, nodes, rabbit
from tests.multinode.guests import QEMU_ENV


@contextlib.contextmanager
def hosted_cloud(
    root: Path, broker: rabbit.Broker = rabbit.SHARED, **settings: str
) -> Iterator[nodes.Cloud]:
    """A fresh cloud whose nodes are namespace hosts (skips where that cannot run)."""
    reason = nodes.unavailable() or fabric.usable()
    if reason:
        pytest.skip(reason)
    with fabric.fabric() as hosts, nodes.cloud(root, hosts, broker, **settings) as made:
        yield made


@pytest.fixture(scope="package")
def qemu_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[nodes.Cloud]:
    """Real guests' cloud, shared by the modules that boot them (each its own guests): `api`
    (the APIs and the scheduler), `control` (the conductor), and the compute nodes `nodea`
    (which stores the volumes too) and `nodeb`, the guest image registered."""
    image = build.ensure(GUEST_DIR)
    with hosted_cloud(tmp_path_factory.mktemp("qemu-nodes")) as made:
        made.node("api", "api,scheduler").start()
        made.node("control", "conductor").start()
        nodea = made.node("nodea", "compute,volume", **QEMU_ENV)
        nodea.env["OVERCAST_VOLUME__EXPORT_ADDRESS"] = nodea.env["OVERCAST_MY_IP"]
        nodea.start(timeout=240)
        made.node("nodeb", "compute", **QEMU_ENV).start(timeout=240)
        with image.path.open("rb") as data:
            made.nodes[0].connect().image.create_image(
                name="overcast-guest", data=data, disk_format="qcow2",
                container_format="bare", visibility="public",
            )  # fmt: skip
        try:
            yield made
        finally:
            for node in made.nodes:
                if node.process is not None:  # a test that failed may leave one stopped
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(node.process.pid, signal.SIGCONT)
            for node in made.nodes[2:]:
                for pid in qemu_pids(node.data_dir):  # nothing may outlive the tests
                    os.kill(pid, 9)


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
