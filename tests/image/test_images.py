"""Image records through the real clients: discovery, create/show/list/update/delete, paging,
filters, deactivation and protection. Every test makes its own images on the shared cloud."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import httpx
import openstack
import openstack.exceptions as osexc
import pytest

from tests.helpers.server import Server
from tests.image import raw

COMPUTE_PROPERTIES = {
    "hw_disk_bus": "virtio",
    "hw_vif_model": "virtio",
    "hw_qemu_guest_agent": "yes",
    "os_distro": "cirros",
    "os_type": "linux",
    "os_require_quiesce": "true",
}


def test_version_discovery_and_catalog(
    server: Server, admin: openstack.connection.Connection
) -> None:
    assert admin.image.get_endpoint().endswith("/image/v2/")
    root = httpx.get(admin.image.get_endpoint().rsplit("/v2/", 1)[0] + "/")
    assert root.status_code == 300
    versions = root.json()["versions"]
    assert versions[0]["id"] == "v2.17" and versions[0]["status"] == "CURRENT"
    assert {v["id"] for v in versions} >= {"v2.0", "v2.9", "v2.16"}
    assert versions[0]["links"][0]["href"].endswith("/image/v2/")
    catalog = server.cli_json("catalog", "list")
    image = next(entry for entry in catalog if entry["Type"] == "image")
    assert image["Name"] == "glance"


def test_create_show_update_delete_with_compute_properties(
    admin: openstack.connection.Connection, make_image: Any
) -> None:
    kernel, ramdisk = str(uuid.uuid4()), str(uuid.uuid4())
    image = make_image(
        min_disk=2,
        min_ram=512,
        tags=["a", "b"],
        kernel_id=kernel,
        ramdisk_id=ramdisk,
        **COMPUTE_PROPERTIES,
    )
    shown = admin.image.get_image(image.id)
    assert shown.status == "queued"
    assert (shown.min_disk, shown.min_ram, shown.visibility) == (2, 512, "shared")
    assert shown.kernel_id == kernel and shown.ramdisk_id == ramdisk
    assert shown.hw_disk_bus == "virtio" and shown.os_distro == "cirros"
    assert sorted(shown.tags) == ["a", "b"]
    assert shown.owner == admin.current_project_id
    assert shown.size is None and shown.checksum is None

    updated = admin.image.update_image(
        image, name="renamed", min_ram=1024, hw_disk_bus="scsi", architecture="x86_64"
    )
    assert (updated.name, updated.min_ram) == ("renamed", 1024)
    assert updated.hw_disk_bus == "scsi" and updated.architecture == "x86_64"
    assert admin.image.get_image(image.id).architecture == "x86_64"

    admin.image.delete_image(image)
    with pytest.raises(osexc.NotFoundException):
        admin.image.get_image(image.id)
    with pytest.raises(osexc.NotFoundException):
        admin.image.delete_image(image, ignore_missing=False)


def test_cli_create_list_show_set_save_delete(server: Server, tmp_path: Any) -> None:
    from tests.image import samples

    disk = tmp_path / "disk.qcow2"
    disk.write_bytes(samples.qcow2(32 << 20))
    name = f"cli-{uuid.uuid4().hex[:8]}"
    created = server.cli_json(
        "image",
        "create",
        "--file",
        str(disk),
        "--disk-format",
        "qcow2",
        "--container-format",
        "bare",
        name,
    )
    assert created["status"] == "active" and created["name"] == name
    assert created["virtual_size"] == 32 << 20
    listed = server.cli_json("image", "list", "--name", name)
    assert [i["ID"] for i in listed] == [created["id"]]
    server.cli(
        "image", "set", "--property", "os_distro=ubuntu", "--tag", "gold", "--min-disk", "1", name
    )
    shown = server.cli_json("image", "show", name)
    assert shown["min_disk"] == 1 and "gold" in shown["tags"]
    assert shown["properties"]["os_distro"] == "ubuntu"
    assert shown["checksum"] and shown["properties"]["os_hash_algo"] == "sha512"
    saved = tmp_path / "saved"
    server.cli("image", "save", "--file", str(saved), name)
    assert saved.read_bytes() == disk.read_bytes()
    server.cli("image", "delete", name)
    with pytest.raises(osexc.NotFoundException):
        server.connect().image.get_image(created["id"])


def test_cli_shows_a_progress_bar_on_a_terminal(server: Server, tmp_path: Any) -> None:
    import os
    import pty
    import subprocess

    from tests.helpers.server import OPENSTACK

    disk = tmp_path / "big.raw"
    disk.write_bytes(b"\x00" * (8 << 20))
    name = f"bar-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(server.clouds_yaml)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [
            OPENSTACK,
            "--os-cloud",
            "overcast",
            "image",
            "create",
            "--progress",
            "--file",
            str(disk),
            "--disk-format",
            "raw",
            "--container-format",
            "bare",
            name,
        ],
        stdout=follower,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(follower)
    output = b""
    while True:
        try:
            piece = os.read(leader, 65536)
        except OSError:
            break
        if not piece:
            break
        output += piece
    assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    os.close(leader)
    text = output.decode(errors="replace")
    assert "[=" in text and "100%" in text
    assert "active" in text
    server.cli("image", "delete", name)


def test_list_paging_sorting_and_filters(
    admin: openstack.connection.Connection, make_image: Any
) -> None:
    tag = f"page-{uuid.uuid4().hex[:8]}"
    names = [f"{tag}-{i}" for i in range(5)]
    for i, name in enumerate(names):
        make_image(name=name, tags=[tag], os_distro="pagetest" if i % 2 else "other")
    found = list(admin.image.images(tag=tag, limit=2, sort="name:asc"))
    assert [i.name for i in found] == names
    first = raw.call(admin, "GET", f"/images?tag={tag}&limit=2&sort=name:asc").json()
    assert len(first["images"]) == 2 and first["next"].startswith("/v2/images?")
    assert "marker=" in first["next"] and first["schema"] == "/v2/schemas/images"
    desc = raw.call(admin, "GET", f"/images?tag={tag}&sort_key=name&sort_dir=desc").json()
    assert [i["name"] for i in desc["images"]] == names[::-1]
    by_prop = raw.call(admin, "GET", f"/images?tag={tag}&os_distro=pagetest").json()
    assert sorted(i["name"] for i in by_prop["images"]) == [names[1], names[3]]
    by_in = raw.call(admin, "GET", f"/images?name=in:{names[0]},{names[4]}").json()
    assert sorted(i["name"] for i in by_in["images"]) == [names[0], names[4]]
    queued = list(admin.image.images(tag=tag, status="queued"))
    assert len(queued) == 5 and list(admin.image.images(tag=tag, status="active")) == []


def test_time_filters_replace_changes_since(
    admin: openstack.connection.Connection, make_image: Any
) -> None:
    tag = f"time-{uuid.uuid4().hex[:8]}"
    old = make_image(tags=[tag])
    time.sleep(1.1)
    cut = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    time.sleep(0.1)
    new = make_image(tags=[tag])
    after = raw.call(admin, "GET", f"/images?tag={tag}&created_at=gte:{cut}").json()["images"]
    assert [i["id"] for i in after] == [new.id]
    before = raw.call(admin, "GET", f"/images?tag={tag}&updated_at=lt:{cut}").json()["images"]
    assert [i["id"] for i in before] == [old.id]
    gone = raw.call(admin, "GET", f"/images?changes-since={cut}")
    raw.assert_glance_error(gone, 400, "changes-since")


def test_hidden_images_are_listed_only_on_request(
    admin: openstack.connection.Connection, make_image: Any
) -> None:
    tag = f"hide-{uuid.uuid4().hex[:8]}"
    hidden = make_image(tags=[tag], meta={"os_hidden": True})
    assert list(admin.image.images(tag=tag)) == []
    assert [i.id for i in admin.image.images(tag=tag, is_hidden=True)] == [hidden.id]


def test_protected_images_cannot_be_deleted(
    admin: openstack.connection.Connection, make_image: Any
) -> None:
    image = make_image(is_protected=True)
    with pytest.raises(osexc.ForbiddenException):
        admin.image.delete_image(image)
    assert admin.image.get_image(image.id).is_protected
    admin.image.update_image(image, is_protected=False)
    admin.image.delete_image(image)


def test_deactivate_blocks_download_until_reactivated(
    admin: openstack.connection.Connection, demo: openstack.connection.Connection, make_image: Any
) -> None:
    image = make_image(conn=demo)
    image.upload(demo.image, data=b"payload" * 100)
    demo.image.deactivate_image(image)
    assert demo.image.get_image(image.id).status == "deactivated"
    # (the sdk's download_image does not check the status, so look at the answer itself)
    refused = raw.call(demo, "GET", f"/images/{image.id}/file")
    raw.assert_glance_error(refused, 403, "deactivated")
    assert admin.image.download_image(image).content == b"payload" * 100  # admins still may
    demo.image.reactivate_image(image)
    assert demo.image.get_image(image.id).status == "active"
    assert demo.image.download_image(image).content == b"payload" * 100
    queued = make_image(conn=demo)
    refused = raw.call(demo, "POST", f"/images/{queued.id}/actions/deactivate")
    raw.assert_glance_error(refused, 403, "Not allowed to deactivate image in status 'queued'")


def test_tags_add_and_remove(admin: openstack.connection.Connection, make_image: Any) -> None:
    image = make_image(tags=["one"])
    admin.image.add_tag(image, "two")
    admin.image.add_tag(image, "two")
    assert sorted(admin.image.get_image(image.id).tags) == ["one", "two"]
    admin.image.remove_tag(image, "one")
    assert admin.image.get_image(image.id).tags == ["two"]
    with pytest.raises(osexc.NotFoundException):
        admin.image.remove_tag(image, "absent")
