"""Real guests for the qemu driver's tests: one cloud on the qemu driver (TCG here) with the
guest image registered, and a helper that boots guests in parallel and waits for their
banners. Guests are shared by the tests that do not change them."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openstack
import pytest
import websockets.sync.client

from overcast.compute.drivers.qemu import hostinfo
from overcast.compute.guest import build
from tests.compute.test_consoles import websocket_url
from tests.helpers.server import Server

GUEST_DIR = Path(os.environ.get("OVERCAST_TEST_GUEST_DIR", "/var/tmp/overcast-test-guest"))
BANNER = "overcast-guest login banner:"
BOOT_TIMEOUT = float(os.environ.get("OVERCAST_TEST_BOOT_TIMEOUT", "300"))

pytestmark = pytest.mark.skipif(
    not hostinfo.qemu_usable("qemu-system-x86_64"), reason="QEMU cannot run here"
)


def image_bytes(path: Path, fmt: str, offset: int, length: int) -> bytes:
    """What the image holds at `offset`, read beside the guest (shared, read-only)."""
    out = subprocess.run(
        ["qemu-io", "-r", "-U", "-f", fmt, "-c", f"read -v {offset} {length}", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = bytearray()
    for line in out.splitlines():
        if re.match(r"^[0-9a-f]{8}:", line):
            found += bytes(int(h, 16) for h in line.split(":", 1)[1].split()[:16]
                           if re.fullmatch(r"[0-9a-f]{2}", h))  # fmt: skip
    return bytes(found[:length])


def qemu_pids(data_dir: Path) -> list[int]:
    """QEMU processes whose command line names a file under `data_dir`'s instances."""
    out = subprocess.run(["pgrep", "-f", "qemu-system"], capture_output=True, text=True).stdout
    pids = []
    for pid in out.split():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(data_dir) in cmdline:
            pids.append(int(pid))
    return pids


def vnc_handshake(url: str) -> str:
    """Open a noVNC console URL: its page, then its websocket through the proxy to the guest's
    VNC server, up to the server's framebuffer description (RFB 3.8). The websocket's URL."""
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200 and "noVNC" in page.text
    socket = websocket_url(url)
    with websockets.sync.client.connect(socket, subprotocols=["binary"], open_timeout=10) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "binary"
        version = ws.recv(timeout=10)
        assert version == b"RFB 003.008\n"
        ws.send(version)
        offered = ws.recv(timeout=10)
        assert isinstance(offered, bytes) and 1 in offered[1 : 1 + offered[0]]  # "None"
        ws.send(bytes([1]))
        assert ws.recv(timeout=10) == b"\0\0\0\0"  # security handshake done
        ws.send(bytes([1]))  # ClientInit: share the desktop
        init = b""
        while len(init) < 24:
            init += bytes(ws.recv(timeout=10))
        width, height = struct.unpack(">HH", init[:4])
        assert width >= 320 and height >= 200
        (name_length,) = struct.unpack(">I", init[20:24])
        assert name_length > 0
    return socket


class Cloud:
    def __init__(self, srv: Server) -> None:
        self.srv = srv
        self.conn = srv.connect()
        self.image = self._wait_image()
        found = self.conn.compute.find_flavor("g1.tiny")
        self.flavor = found or self.conn.compute.create_flavor(
            name="g1.tiny", ram=256, vcpus=1, disk=1
        )
        bigger = self.conn.compute.find_flavor("g1.small")
        self.bigger = bigger or self.conn.compute.create_flavor(
            name="g1.small", ram=320, vcpus=1, disk=2
        )

    def _wait_image(self, timeout: float = 300.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for image in self.conn.image.images(name="overcast-guest"):
                if image.status == "active":
                    return image
            time.sleep(0.5)
        raise AssertionError("the guest image was never registered")

    def boot(self, name: str, **kwargs: Any) -> Any:
        fields = {"flavor_id": self.flavor.id, "image_id": self.image.id, "networks": "none"}
        return self.conn.compute.create_server(name=name, **{**fields, **kwargs})

    def wait_status(self, server: Any, status: str, timeout: float = BOOT_TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.conn.compute.get_server(server)
            if found.status == status:
                return found
            if found.status == "ERROR" and status != "ERROR":
                raise AssertionError(f"{found.name} went to ERROR: {found.fault}")
            time.sleep(0.5)
        raise AssertionError(
            f"{server.name} never reached {status}: {found.status}, task {found.task_state}, "
            f"power {found.power_state}"
        )

    def console(self, server: Any, lines: int | None = None) -> str:
        out = self.conn.compute.get_server_console_output(server, length=lines)
        return str(out["output"])

    def wait_console(
        self, server: Any, text: str, count: int = 1, timeout: float = BOOT_TIMEOUT
    ) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            output = self.console(server)
            if output.count(text) >= count:
                return output
            time.sleep(1.0)
        raise AssertionError(f"{text!r} x{count} never appeared:\n{self.console(server)[-3000:]}")

    def boot_all(self, *specs: tuple[str, dict[str, Any]]) -> list[Any]:
        """Boot guests at once; each ACTIVE with its banner on the console."""
        servers = [self.boot(name, **kwargs) for name, kwargs in specs]
        servers = [self.wait_status(s, "ACTIVE") for s in servers]
        for server in servers:
            self.wait_console(server, BANNER)
        return servers


@pytest.fixture(scope="package")
def guest_image() -> build.Built:
    return build.ensure(GUEST_DIR)


@pytest.fixture(scope="package")
def qemu_cloud(
    guest_image: build.Built, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cloud]:
    data_dir = tmp_path_factory.mktemp("qemu-cloud")
    env = {
        "OVERCAST_COMPUTE__DRIVER": "qemu",
        # CI boots under TCG (the rule), whatever the KVM probe finds.
        "OVERCAST_COMPUTE__QEMU__ACCEL": "tcg",
        "OVERCAST_COMPUTE__DEFAULT_IMAGE": "overcast-guest",
        "OVERCAST_COMPUTE__GUEST_IMAGE_DIR": str(GUEST_DIR),
        "OVERCAST_COMPUTE__SHUTDOWN_TIMEOUT": "20",
        "OVERCAST_COMPUTE__QEMU__REBOOT_TIMEOUT": "20",
        "OVERCAST_COMPUTE__SYNC_POWER_STATE_INTERVAL": "5",
        # Two volume back ends (qcow2 and raw files), for attached volumes moving between them.
        "OVERCAST_VOLUME__BACKENDS": json.dumps(
            {
                "fast": {"volume_backend_name": "fast"},
                "slow": {"volume_backend_name": "slow", "volume_format": "raw"},
            }
        ),
    }
    srv = Server(data_dir, env=env).start(timeout=400)
    try:
        yield Cloud(srv)
    finally:
        with_conn: openstack.connection.Connection | None = None
        try:
            if srv.process is None:
                srv.start()
            with_conn = srv.connect()
            for server in with_conn.compute.servers(all_projects=True):
                with_conn.compute.delete_server(server)
            deadline = time.monotonic() + 60
            while (
                list(with_conn.compute.servers(all_projects=True)) and time.monotonic() < deadline
            ):
                time.sleep(0.5)
        finally:
            srv.stop()
            for pid in qemu_pids(data_dir):  # nothing may outlive the tests
                os.kill(pid, 9)
