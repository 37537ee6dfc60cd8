"""OTLP/HTTP export: with `trace.otlp_url` set, a boot's spans reach a collector (here a tiny
HTTP receiver in the test) as OTLP JSON, under the trace id the API shows."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.compute.conftest import boot, wait_for
from tests.helpers.server import Server
from tests.trace.test_boot_trace import settled


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.posts: list[tuple[str, str, dict[str, Any]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/traces"


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((self.path, self.headers["Content-Type"], json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    thread = threading.Thread(target=found.serve_forever, daemon=True)
    thread.start()
    yield found
    found.shutdown()
    found.server_close()


def test_boot_spans_are_exported_over_otlp(
    start_server: Callable[..., Server], receiver: Receiver
) -> None:
    server = start_server({"OVERCAST_TRACE__OTLP_URL": receiver.url})
    admin = server.connect()
    image = admin.image.create_image(
        name="otlp", data=b"\0" * 4096, disk_format="raw", container_format="bare"
    )
    vm = boot(admin, image)
    wait_for(admin, vm.id, "ACTIVE")
    trace = settled(admin, vm.id)
    wanted = {s["id"] for s in trace["spans"] if s["status"] != "running"}
    deadline = time.monotonic() + 5
    exported: dict[str, dict[str, Any]] = {}
    services: set[str] = set()
    while time.monotonic() < deadline and not wanted <= set(exported):
        for path, content_type, body in receiver.posts:
            assert path == "/v1/traces" and content_type == "application/json"
            for resource in body["resourceSpans"]:
                attributes = resource["resource"]["attributes"]
                services.add(attributes[0]["value"]["stringValue"])
                for scope in resource["scopeSpans"]:
                    for span in scope["spans"]:
                        exported[span["spanId"]] = span
        time.sleep(0.1)
    assert wanted <= set(exported)
    assert "overcast-compute" in services
    scheduled = next(s for s in exported.values() if s["name"] == "scheduled")
    assert scheduled["traceId"] == trace["id"] and len(scheduled["traceId"]) == 32
    assert int(scheduled["endTimeUnixNano"]) >= int(scheduled["startTimeUnixNano"]) > 0
    assert scheduled["status"] == {"code": 1}
    assert scheduled["parentSpanId"] in exported
    keys = {a["key"] for a in scheduled["attributes"]}
    assert {"overcast.kind", "host.name", "filters"} <= keys
