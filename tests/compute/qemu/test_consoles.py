"""Remote consoles of a real guest: the URL that `openstack console url show --novnc` gives opens
noVNC's page, and its websocket reaches the guest's VNC server through the proxy (RFB 3.8
handshake to the server's framebuffer description); the serial console's websocket carries the
guest's getty (a login prompt answers a carriage return). Each URL opens once."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets.exceptions
import websockets.sync.client

from tests.compute.qemu.conftest import Cloud, vnc_handshake
from tests.helpers.server import free_port


@pytest.fixture(scope="module")
def guest(qemu_cloud: Cloud) -> Any:
    (server,) = qemu_cloud.boot_all(("console", {}))
    return server


def test_novnc_reaches_the_guests_vnc_server(qemu_cloud: Cloud, guest: Any) -> None:
    url = qemu_cloud.srv.cli_json("console", "url", "show", "--novnc", guest.id)["url"]
    socket = vnc_handshake(url)
    with pytest.raises(websockets.exceptions.InvalidStatus) as caught:  # used once
        websockets.sync.client.connect(socket, open_timeout=10)
    assert caught.value.response.status_code == 403


def test_serial_console_carries_the_login_prompt(qemu_cloud: Cloud, guest: Any) -> None:
    console = qemu_cloud.conn.compute.create_server_remote_console(
        guest, protocol="serial", type="serial"
    )
    assert console.url.startswith("ws://")
    seen = b""
    with websockets.sync.client.connect(console.url, open_timeout=10) as ws:
        deadline = time.monotonic() + 60
        ws.send(b"\r")
        while b"login:" not in seen:
            assert time.monotonic() < deadline, f"no login prompt, only {seen[-500:]!r}"
            try:
                seen += bytes(ws.recv(timeout=5))
            except TimeoutError:
                ws.send(b"\r")
    assert b"login:" in seen


class DevTools:
    """A headless Chromium page driven over the DevTools protocol (its own websocket)."""

    def __init__(self, browser: str, url: str, profile: Path) -> None:
        port = free_port()
        self.process = subprocess.Popen(
            [browser, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--window-size=1024,800", f"--remote-debugging-port={port}",
             f"--user-data-dir={profile}", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                pages = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
                target = next(p for p in pages if p["type"] == "page")
                break
            except (httpx.HTTPError, StopIteration):
                assert time.monotonic() < deadline, "the browser did not start"
                time.sleep(0.3)
        self.ws = websockets.sync.client.connect(target["webSocketDebuggerUrl"], max_size=None)
        self.next_id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            answer = json.loads(self.ws.recv(timeout=30))
            if answer.get("id") == self.next_id:
                return dict(answer.get("result", {}))

    def text(self, expression: str) -> str:
        found = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return str(found.get("result", {}).get("value", ""))

    def close(self) -> None:
        self.ws.close()
        self.process.terminate()
        self.process.wait(timeout=10)


def test_novnc_page_connects_in_a_headless_browser(
    qemu_cloud: Cloud, guest: Any, tmp_path: Path
) -> None:
    """The URL, opened by a real browser: noVNC loads from Overcast, connects through the
    proxy and draws the guest's screen."""
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("no chromium (packages.txt installs it)")
    console = qemu_cloud.conn.compute.create_server_remote_console(
        guest, protocol="vnc", type="novnc"
    )
    page = DevTools(browser, console.url, tmp_path / "profile")
    try:
        deadline = time.monotonic() + 60
        status = ""
        while not status.startswith("Connected to QEMU"):
            assert time.monotonic() < deadline, f"noVNC says {status!r}"
            time.sleep(0.5)
            status = page.text("document.getElementById('status').textContent")
        time.sleep(2)  # the first frame
        width = page.text("String(document.querySelector('canvas').width)")
        assert int(width) >= 640
        shot = base64.b64decode(page.call("Page.captureScreenshot")["data"])
        (tmp_path / "console.png").write_bytes(shot)
        assert shot.startswith(b"\x89PNG") and len(shot) > 5000
    finally:
        page.close()
