"""`OS-DCF:diskConfig` given with a rebuild or a resize becomes the server's (checked first: a
bad value is a 400 and nothing happens), as Nova records it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.compute.conftest import boot, wait_for
from tests.compute.test_proxy_network import call


@pytest.fixture
def demo(tenant_factory: Any) -> Any:
    return tenant_factory().conn


def test_disk_config_follows_rebuild_and_resize(demo: Any, cirros: Any) -> None:
    server = boot(demo, cirros)
    wait_for(demo, server.id, "ACTIVE")

    def disk_config() -> str:
        return str(call(demo, "GET", f"/servers/{server.id}").json()["server"]["OS-DCF:diskConfig"])

    def act(body: Any) -> int:
        return int(call(demo, "POST", f"/servers/{server.id}/action", body).status_code)

    assert disk_config() == "MANUAL"
    assert act({"rebuild": {"imageRef": cirros.id, "OS-DCF:diskConfig": "SIDEWAYS"}}) == 400
    assert act({"rebuild": {"imageRef": cirros.id, "OS-DCF:diskConfig": "AUTO"}}) == 202
    wait_for(demo, server.id, "ACTIVE")
    assert disk_config() == "AUTO"
    assert act({"resize": {"flavorRef": "2", "OS-DCF:diskConfig": "MANUAL"}}) == 202
    wait_for(demo, server.id, "VERIFY_RESIZE")
    assert disk_config() == "MANUAL"
    demo.compute.confirm_server_resize(server)
    wait_for(demo, server.id, "ACTIVE")
    assert disk_config() == "MANUAL"
    demo.compute.delete_server(server)


def test_resize_from_manual_to_auto(demo: Any, cirros: Any) -> None:
    server = boot(demo, cirros)
    wait_for(demo, server.id, "ACTIVE")
    body = {"resize": {"flavorRef": "2", "OS-DCF:diskConfig": "AUTO"}}
    assert call(demo, "POST", f"/servers/{server.id}/action", body).status_code == 202
    wait_for(demo, server.id, "VERIFY_RESIZE")
    demo.compute.confirm_server_resize(server)
    wait_for(demo, server.id, "ACTIVE")
    shown = call(demo, "GET", f"/servers/{server.id}").json()["server"]
    assert shown["OS-DCF:diskConfig"] == "AUTO"
    demo.compute.delete_server(server)


def test_disk_config_survives_shelve_and_unshelve(demo: Any, cirros: Any) -> None:
    server = boot(demo, cirros)
    wait_for(demo, server.id, "ACTIVE")
    demo.compute.update_server(server, **{"OS-DCF:diskConfig": "AUTO"})
    demo.compute.shelve_server(server)
    wait_for(demo, server.id, "SHELVED", "SHELVED_OFFLOADED")
    demo.compute.unshelve_server(server)
    wait_for(demo, server.id, "ACTIVE")
    shown = call(demo, "GET", f"/servers/{server.id}").json()["server"]
    assert shown["OS-DCF:diskConfig"] == "AUTO"
    demo.compute.delete_server(server)
