"""A database or bus that is away when a process starts, or goes away later: the process waits
with a log line, API calls answer 503 within seconds instead of hanging, and everything
resumes when the server is back. The servers "go away" by stopping a forwarder in front of
them; the real PostgreSQL and RabbitMQ are never touched."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from pathlib import Path

import openstack.exceptions
import pytest

from tests.helpers import databases, nodes, rabbit
from tests.helpers.forwarder import Forwarder
from tests.helpers.server import FAST_ENV, free_port

pytestmark = [pytest.mark.xdist_group("multinode-unreachable"), pytest.mark.slow]


def _until(check: Callable[[], bool], what: str, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _status(exc: BaseException) -> int | None:
    return getattr(exc, "status_code", None) or getattr(exc, "http_status", None)


def test_away_at_start_and_later_then_back(tmp_path: Path) -> None:
    reason = nodes.unavailable()
    if reason:
        pytest.skip(reason)
    db_port, bus_port = free_port(), free_port()
    database = Forwarder(f"tcp:127.0.0.1:{db_port}", "tcp:127.0.0.1:5432")
    bus = Forwarder(f"tcp:127.0.0.1:{bus_port}", "tcp:127.0.0.1:5672")
    with databases.fresh("postgresql") as db_url, rabbit.vhost() as bus_url:
        port = free_port()
        env = {
            **FAST_ENV,
            "OVERCAST_DATABASE_URL": db_url.replace(":5432/", f":{db_port}/"),
            "OVERCAST_BUS_URL": bus_url.replace(":5672/", f":{bus_port}/"),
            "OVERCAST_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "OVERCAST_BUS__PUBLISH_TIMEOUT": "2",
        }
        node = nodes.Node(tmp_path / "ctl", "controller,compute", env, port)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            starting = pool.submit(node.start)
            try:
                _until(lambda: "database at" in _text(node.log), "no database log line")
                assert "retrying in" in _text(node.log)
                database.start()
                _until(lambda: "bus: cannot reach" in _text(node.log), "no bus log line")
                bus.start()
                starting.result(timeout=300)
                conn = node.connect()
                image = conn.image.create_image(
                    name="i", data=b"\0" * 512, disk_format="raw", container_format="bare"
                )
                database.stop()
                began = time.monotonic()
                with pytest.raises(Exception) as caught:  # keystoneauth's or openstacksdk's
                    node.connect().identity.get_token()
                assert _status(caught.value) == 503
                assert time.monotonic() - began < 30
                database.start()
                assert node.connect().identity.get_token()
                links = _text(node.log).count("bus: connected to")
                bus.stop()
                flavor = conn.compute.find_flavor("m1.tiny")
                with pytest.raises(openstack.exceptions.HttpException) as caught:
                    conn.compute.create_server(
                        name="s", image_id=image.id, flavor_id=flavor.id, networks="none"
                    )
                assert caught.value.status_code == 503
                (failed,) = list(conn.compute.servers(name="s"))
                assert failed.status == "ERROR"
                bus.start()
                # Each of the node's bus links reconnects after its back-off.
                _until(
                    lambda: _text(node.log).count("bus: connected to") >= 2 * links,
                    "the node never reconnected to the bus",
                )
                server = conn.compute.create_server(
                    name="t", image_id=image.id, flavor_id=flavor.id, networks="none"
                )
                conn.compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.2)
            finally:
                node.stop()
                database.stop()
                bus.stop()
