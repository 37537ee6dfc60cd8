"""A boot's trace across processes, over RabbitMQ and PostgreSQL: the API workers, the
controller's scheduler and conductor and a compute node each record their own spans in the
shared database, joined under one trace id through the bus envelope and the signed REST
headers; the stream served by one API worker shows the compute node's steps as they happen."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import openstack
import pytest

from tests.compute.conftest import wait_for
from tests.helpers import nodes

pytestmark = [pytest.mark.xdist_group("trace-multiprocess"), pytest.mark.slow]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[nodes.Cloud]:
    reason = nodes.unavailable()
    if reason:
        pytest.skip(reason)
    with nodes.cloud(tmp_path_factory.mktemp("trace-multi")) as made:
        made.node("controller", "controller", workers=2).start()
        made.node("nodea", "compute").start()
        yield made


def test_one_trace_from_every_process(cloud: nodes.Cloud) -> None:
    admin: openstack.connection.Connection = cloud.nodes[0].connect()
    image = admin.image.create_image(
        name="tiny", data=b"\0" * 4096, disk_format="raw", container_format="bare"
    )
    flavor = admin.compute.find_flavor("m1.tiny")
    server = admin.compute.create_server(
        name="traced", image_id=image.id, flavor_id=flavor.id, networks="none"
    )
    received: list[dict[str, Any]] = []

    def read() -> None:
        response = admin.compute.get(
            f"/servers/{server.id}/trace", headers={"Accept": "text/event-stream"}, stream=True
        )
        event = ""
        for line in response.iter_lines(chunk_size=None, decode_unicode=True):
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "span":
                received.append(json.loads(line[6:]))
            elif event == "end":
                return

    reader = threading.Thread(target=read)
    reader.start()
    wait_for(admin, server.id, "ACTIVE", timeout=60)
    reader.join(timeout=60)
    assert not reader.is_alive()
    streamed = {s["name"]: s for s in received if s["phase"] == "end"}
    assert {"scheduled", "compute agent", "image fetched", "ACTIVE"} <= set(streamed)
    assert streamed["compute agent"]["host"] == "nodea"
    assert streamed["scheduled"]["host"] == "controller"
    deadline = time.monotonic() + 10
    while True:
        trace = admin.compute.get(f"/servers/{server.id}/trace").json()["trace"]
        spans = trace["spans"]
        if any(s["name"] == "ACTIVE" for s in spans) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert {s["host"] for s in spans} == {"controller", "nodea"}
    by_id = {s["id"]: s for s in spans}
    rpc = [s for s in spans if s["kind"] == "rpc"]
    assert rpc and all(s["parent"] in by_id for s in rpc)  # joined across the bus
    # the compute node fetched the image over REST: the image API's span is the agent's child
    fetched = next(s for s in spans if s["name"] == "image fetched")
    served = [s for s in spans if s["kind"] == "wsgi" and s["service"] == "image"]
    assert served and all(s["host"] == "controller" for s in served)
    assert any(by_id.get(s["parent"], {}).get("host") == "nodea" for s in served)
    assert fetched["host"] == "nodea"
