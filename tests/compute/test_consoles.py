"""Remote consoles on the fake driver, through openstacksdk and the `openstack` CLI: console
URLs (remote-consoles from 2.6, the legacy actions up to 2.5), noVNC's page behind the URL,
tokens shown to admins and used once, and the refusals: unknown or mismatched protocols and
types, another project's server, a bad, used or expired token, a page from another site.

The fake driver's consoles lead nowhere (as Nova's fake driver's): the proxy refuses the
websocket once the token is taken. Real guests' consoles are tested in tests/compute/qemu.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import openstack.exceptions as osexc
import pytest
import websockets.exceptions
import websockets.sync.client

from tests.compute.conftest import boot, wait_for, wait_gone
from tests.helpers.server import Server


@pytest.fixture(scope="module")
def vm(demo: Any, cirros: Any) -> Any:
    server = boot(demo, cirros)
    yield wait_for(demo, server.id, "ACTIVE")
    demo.compute.delete_server(server)


def token_of(url: str) -> str:
    query = parse_qs(urlsplit(url).query)
    if "path" in query:
        query = parse_qs(urlsplit(unquote(query["path"][0])).query)
    return query["token"][0]


def websocket_url(url: str) -> str:
    """The websocket a console URL leads to (noVNC's `path` is relative to the host)."""
    parts = urlsplit(url)
    if parts.scheme.startswith("ws"):
        return url
    path = parse_qs(parts.query)["path"][0]
    return f"ws://{parts.netloc}/{path}"


def refused(url: str, **kwargs: Any) -> int:
    with pytest.raises(websockets.exceptions.InvalidStatus) as caught:
        websockets.sync.client.connect(url, open_timeout=10, **kwargs)
    return int(caught.value.response.status_code)


def test_novnc_and_serial_urls(demo: Any, admin: Any, vm: Any) -> None:
    console = demo.compute.create_server_remote_console(vm, protocol="vnc", type="novnc")
    assert (console.protocol, console.type) == ("vnc", "novnc")
    assert "/compute/console/novnc/vnc_lite.html?path=" in console.url
    page = httpx.get(console.url, timeout=10)
    assert page.status_code == 200
    assert "noVNC" in page.text and "<script" in page.text
    assert httpx.get(console.url.split("?")[0].replace("vnc_lite.html", "core/rfb.js")).is_success

    details = admin.compute.validate_console_auth_token(token_of(console.url))
    assert details.instance_uuid == vm.id
    assert details.host == "fakevncconsole.invalid" and details.port == 6969

    serial = demo.compute.create_server_remote_console(vm, protocol="serial", type="serial")
    assert serial.url.startswith("ws://") and "/compute/console/serial?token=" in serial.url
    assert token_of(serial.url) != token_of(console.url)


def test_cli_console_url_show(server: Server, vm: Any) -> None:
    shown = server.cli_json("console", "url", "show", "--novnc", vm.id, cloud="overcast-demo")
    assert shown["type"] == "novnc" and "vnc_lite.html" in shown["url"]
    serial = server.cli_json("console", "url", "show", "--serial", vm.id, cloud="overcast-demo")
    assert serial["type"] == "serial" and serial["url"].startswith("ws://")
    spice = server.cli(
        "console", "url", "show", "--spice", vm.id, cloud="overcast-demo", check=False
    )
    assert spice.returncode != 0 and "400" in spice.stderr and "spice-html5" in spice.stderr


def test_legacy_actions_up_to_2_5(server: Server, vm: Any) -> None:
    old = server.connect("overcast-demo", compute_api_version="2.5")
    found = old.compute.get_server_console_url(vm, "novnc")
    assert found["type"] == "novnc" and "vnc_lite.html" in found["url"]
    serial = old.compute.get_server_console_url(vm, "serial")
    assert serial["type"] == "serial" and serial["url"].startswith("ws://")
    new = server.connect("overcast-demo", compute_api_version="2.6")
    with pytest.raises(osexc.NotFoundException):
        new.compute.get_server_console_url(vm, "novnc")
    wrong = old.compute.post(
        f"/servers/{vm.id}/action",
        json={"os-getVNCConsole": {"type": "serial"}},
        microversion="2.5",
    )
    assert wrong.status_code == 400 and wrong.json()["badRequest"]["code"] == 400
    with pytest.raises(osexc.NotFoundException):
        old.compute.create_server_remote_console(vm, protocol="vnc", type="novnc")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"protocol": "vnc", "type": "serial"}, 400),  # a type of another protocol
        ({"protocol": "telnet", "type": "novnc"}, 400),
        ({"protocol": "vnc", "type": "vnc"}, 400),
        ({"protocol": "spice", "type": "spice-html5"}, 400),  # not offered here
        ({"protocol": "vnc"}, 400),
        ({"protocol": "vnc", "type": "novnc", "extra": 1}, 400),
        ({"protocol": 5, "type": "novnc"}, 400),
        ({"protocol": "mks", "type": "webmks"}, 400),  # 2.8 and later only
    ],
)
def test_bad_remote_console_requests(demo: Any, vm: Any, body: Any, status: int) -> None:
    response = demo.compute.post(
        f"/servers/{vm.id}/remote-consoles", json={"remote_console": body}, microversion="2.6"
    )
    assert response.status_code == status
    assert response.json()["badRequest"]["code"] == 400


def test_not_someone_elses_server_nor_a_missing_one(
    tenant_factory: Callable[..., Any], server: Server, vm: Any
) -> None:
    tenant = tenant_factory()
    other = tenant.conn
    with pytest.raises(osexc.NotFoundException):
        other.compute.create_server_remote_console(vm, protocol="vnc", type="novnc")
    with pytest.raises(osexc.NotFoundException):
        other.compute.create_server_remote_console(
            "00000000-0000-0000-0000-000000000000", protocol="vnc", type="novnc"
        )


def test_token_details_are_for_admins_and_tokens_are_used_once(
    demo: Any, admin: Any, vm: Any
) -> None:
    url = demo.compute.create_server_remote_console(vm, protocol="vnc", type="novnc").url
    token = token_of(url)
    with pytest.raises(osexc.ForbiddenException):
        demo.compute.validate_console_auth_token(token)
    with pytest.raises(osexc.NotFoundException):
        admin.compute.validate_console_auth_token("no-such-token")
    old = admin.compute.get(f"/os-console-auth-tokens/{token}", microversion="2.30")
    assert old.status_code == 400  # before 2.31 only RDP tokens are shown
    # The fake console leads nowhere: refused, and the token is gone all the same.
    assert refused(websocket_url(url)) == 403
    with pytest.raises(osexc.NotFoundException):
        admin.compute.validate_console_auth_token(token)
    assert refused(websocket_url(url)) == 403


def test_bad_tokens_and_foreign_pages_are_refused(demo: Any, admin: Any, vm: Any) -> None:
    url = demo.compute.create_server_remote_console(vm, protocol="vnc", type="novnc").url
    socket = websocket_url(url)
    assert refused(socket.replace("token=", "token=bad")) == 403
    assert refused(socket.split("?")[0]) == 403
    assert refused(socket, origin="http://evil.example") == 403  # type: ignore[arg-type]
    # A serial token does not open the VNC socket.
    serial = demo.compute.create_server_remote_console(vm, protocol="serial", type="serial").url
    assert refused(socket.split("?")[0] + "?token=" + token_of(serial)) == 403
    # None of these took the VNC token.
    assert admin.compute.validate_console_auth_token(token_of(url)).instance_uuid == vm.id


def test_tokens_expire(start_server: Callable[..., Server], cirros: Any) -> None:
    srv = start_server({"OVERCAST_COMPUTE__CONSOLE_TOKEN_TTL": "1"})
    conn = srv.connect()
    image = conn.image.create_image(
        name="i", data=b"\0" * 512, disk_format="raw", container_format="bare"
    )
    server = boot(conn, image)
    wait_for(conn, server.id, "ACTIVE")
    url = conn.compute.create_server_remote_console(server, protocol="vnc", type="novnc").url
    assert conn.compute.validate_console_auth_token(token_of(url)).instance_uuid == server.id
    time.sleep(1.5)
    with pytest.raises(osexc.NotFoundException):
        conn.compute.validate_console_auth_token(token_of(url))
    assert refused(websocket_url(url)) == 403
    assert json.loads(conn.compute.get(f"/servers/{server.id}").text)["server"]["id"] == server.id


def test_deleting_the_server_ends_its_console_tokens(demo: Any, admin: Any, cirros: Any) -> None:
    server = boot(demo, cirros)
    wait_for(demo, server.id, "ACTIVE")
    url = demo.compute.create_server_remote_console(server, protocol="vnc", type="novnc").url
    assert admin.compute.validate_console_auth_token(token_of(url)).instance_uuid == server.id
    demo.compute.delete_server(server)
    wait_gone(demo, server.id)
    with pytest.raises(osexc.NotFoundException):
        admin.compute.validate_console_auth_token(token_of(url))
