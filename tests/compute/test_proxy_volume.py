"""Nova's block storage proxy (up to 2.35) through the compute adapter (no SDK call speaks
`os-volumes`/`os-snapshots`), checked against what openstacksdk's block storage proxy sees:
volumes and snapshots in Nova's shape, `limit`/`offset`, and the refusals (bad sizes, unknown
ids, another project's volume, 2.36 and later)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import openstack.exceptions as osexc
import pytest

from tests.compute.conftest import boot, wait_for
from tests.compute.test_proxy_network import call


@pytest.fixture
def demo(tenant_factory: Any) -> Any:
    return tenant_factory().conn


def wait_status(conn: Any, kind: str, item_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = call(conn, "GET", f"/os-{kind}s/{item_id}").json()[kind]
        if found["status"] == status:
            return dict(found)
        time.sleep(0.2)
    raise AssertionError(f"{kind} {item_id} never became {status}")


def test_volumes_and_snapshots(demo: Any) -> None:
    body = {"volume": {"size": 1, "display_name": "v", "metadata": {"Type": "work"}}}
    made = call(demo, "POST", "/os-volumes", body).json()["volume"]
    assert made["displayName"] == "v" and made["size"] == 1 and made["attachments"] == [{}]
    volume = wait_status(demo, "volume", made["id"], "available")
    assert volume["metadata"] == {"Type": "work"}
    assert demo.block_storage.get_volume(made["id"]).name == "v"
    others = [call(demo, "POST", "/os-volumes", {"volume": {"size": 1}}).json()["volume"]
              for _ in range(2)]  # fmt: skip
    for other in others:
        wait_status(demo, "volume", other["id"], "available")
    every = call(demo, "GET", "/os-volumes/detail").json()["volumes"]
    assert {v["id"] for v in every} == {made["id"], *(o["id"] for o in others)}
    page = call(demo, "GET", "/os-volumes?limit=1&offset=1").json()["volumes"]
    assert [v["id"] for v in page] == [every[1]["id"]]
    assert call(demo, "GET", "/os-volumes?limit=-1").status_code == 400

    snap_body = {"snapshot": {"volume_id": made["id"], "display_name": "s"}}
    snap = call(demo, "POST", "/os-snapshots", snap_body).json()["snapshot"]
    assert snap["volumeId"] == made["id"] and snap["displayName"] == "s"
    wait_status(demo, "snapshot", snap["id"], "available")
    assert snap["id"] in {s["id"] for s in call(demo, "GET", "/os-snapshots").json()["snapshots"]}
    assert demo.block_storage.get_snapshot(snap["id"]).name == "s"
    assert call(demo, "DELETE", f"/os-volumes/{made['id']}").status_code == 400  # has a snapshot
    assert call(demo, "DELETE", f"/os-snapshots/{snap['id']}").status_code == 202
    deadline = time.monotonic() + 60
    while call(demo, "GET", f"/os-snapshots/{snap['id']}").status_code != 404:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    for volume_id in (made["id"], *(o["id"] for o in others)):
        assert call(demo, "DELETE", f"/os-volumes/{volume_id}").status_code == 202


@pytest.mark.parametrize("size", ["#$%", "", "0", -1, None])
def test_bad_sizes(demo: Any, size: Any) -> None:
    response = call(demo, "POST", "/os-volumes", {"volume": {"size": size}})
    assert response.status_code == 400 and response.json()["badRequest"]["code"] == 400
    assert list(demo.block_storage.volumes()) == []


def test_refusals(demo: Any, tenant_factory: Any) -> None:
    made = call(demo, "POST", "/os-volumes", {"volume": {"size": 1}}).json()["volume"]
    wait_status(demo, "volume", made["id"], "available")
    other = tenant_factory().conn
    assert call(other, "GET", f"/os-volumes/{made['id']}").status_code == 404
    assert call(other, "DELETE", f"/os-volumes/{made['id']}").status_code == 404
    assert demo.block_storage.get_volume(made["id"]).status == "available"
    for path in ("/os-volumes/invalid-id", "/os-snapshots/00000000-0000-0000-0000-000000000000"):
        assert call(demo, "GET", path).status_code == 404
        assert call(demo, "DELETE", path).status_code == 404
    assert call(demo, "GET", "/os-volumes/").status_code == 404
    assert (
        call(demo, "POST", "/os-snapshots", {"snapshot": {"display_name": "x"}}).status_code == 400
    )
    assert call(demo, "GET", "/os-volumes", version="2.36").status_code == 404
    assert call(demo, "GET", "/os-snapshots", version="2.36").status_code == 404
    assert call(demo, "DELETE", f"/os-volumes/{made['id']}").status_code == 202


def test_no_detach_while_rescued(demo: Any, cirros: Any) -> None:
    volume = demo.block_storage.create_volume(size=1)
    demo.block_storage.wait_for_status(volume, "available", wait=60, interval=0.1)
    server = boot(demo, cirros)
    wait_for(demo, server.id, "ACTIVE")
    demo.compute.create_volume_attachment(server, volume_id=volume.id)
    demo.block_storage.wait_for_status(volume, "in-use", wait=60, interval=0.1)
    demo.compute.rescue_server(server)
    wait_for(demo, server.id, "RESCUE")
    with pytest.raises(osexc.ConflictException):
        demo.compute.delete_volume_attachment(server, volume.id)
    assert demo.block_storage.get_volume(volume.id).status == "in-use"
    demo.compute.unrescue_server(server)
    wait_for(demo, server.id, "ACTIVE")
    demo.compute.delete_volume_attachment(server, volume.id)
    demo.block_storage.wait_for_status(volume, "available", wait=60, interval=0.1)
    demo.compute.delete_server(server)


def test_no_boot_from_a_volume_that_is_not_bootable(demo: Any) -> None:
    volume = demo.block_storage.create_volume(size=1)
    demo.block_storage.wait_for_status(volume, "available", wait=60, interval=0.1)
    assert not demo.block_storage.get_volume(volume.id).is_bootable
    mapping = [{"boot_index": 0, "uuid": volume.id, "source_type": "volume",
                "destination_type": "volume", "delete_on_termination": False}]  # fmt: skip
    with pytest.raises(osexc.BadRequestException):
        demo.compute.create_server(
            name="nb", flavor_id="1", networks="none", block_device_mapping=mapping
        )
    assert list(demo.compute.servers()) == []
    missing = [{**mapping[0], "uuid": "00000000-0000-0000-0000-000000000000"}]
    with pytest.raises(osexc.BadRequestException):
        demo.compute.create_server(
            name="nb", flavor_id="1", networks="none", block_device_mapping=missing
        )
    demo.block_storage.set_volume_bootable_status(volume, True)
    server = demo.compute.create_server(
        name="b", flavor_id="1", networks="none", block_device_mapping=mapping
    )
    wait_for(demo, server.id, "ACTIVE")
    demo.compute.delete_server(server)


def test_attachment_update_and_admin_actions(demo: Any, admin: Any, cirros: Any) -> None:
    volume = demo.block_storage.create_volume(size=1)
    demo.block_storage.wait_for_status(volume, "available", wait=60, interval=0.1)
    server = boot(demo, cirros)
    wait_for(demo, server.id, "ACTIVE")
    demo.compute.create_volume_attachment(server, volume_id=volume.id)
    demo.block_storage.wait_for_status(volume, "in-use", wait=60, interval=0.1)
    path = f"/servers/{server.id}/os-volume_attachments"
    keep = {"volumeAttachment": {"volumeId": volume.id, "delete_on_termination": True}}
    assert call(demo, "PUT", f"{path}/{volume.id}", keep, "2.85").status_code == 202
    shown = call(demo, "GET", f"{path}/{volume.id}", version="2.85").json()["volumeAttachment"]
    assert shown["delete_on_termination"] is True
    # Before 2.85 a PUT is a swap, and swaps are for admins (the block storage service).
    assert call(demo, "PUT", f"{path}/{volume.id}", keep, "2.84").status_code == 403
    swap = {"volumeAttachment": {"volumeId": str(uuid.uuid4())}}
    assert call(demo, "PUT", f"{path}/{volume.id}", swap).status_code == 403
    # Only a volume the block storage service migrates is swapped (409); unknown: 404.
    assert call(admin, "PUT", f"{path}/{volume.id}", swap).status_code == 409
    assert call(admin, "PUT", f"{path}/{uuid.uuid4()}", swap).status_code == 404
    assert demo.block_storage.get_volume(volume.id).status == "in-use"
    body = {"injectNetworkInfo": None}
    assert call(admin, "POST", f"/servers/{server.id}/action", body).status_code == 202
    assert call(demo, "POST", f"/servers/{server.id}/action", body).status_code == 403
    assert call(admin, "POST", f"/servers/{uuid.uuid4()}/action", body).status_code == 404
    demo.compute.delete_server(server)
