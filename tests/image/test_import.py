"""Discovery documents and the interoperable import: /v2/info/*, /v2/schemas/*, glance-direct."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import openstack

from tests.image import raw, samples


def wait_for(conn: openstack.connection.Connection, image_id: str, *statuses: str) -> Any:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        image = conn.image.get_image(image_id)
        if image.status in statuses:
            return image
        time.sleep(0.1)
    raise AssertionError(f"image {image_id} is {image.status}, not one of {statuses}")


def test_info_documents(demo: openstack.connection.Connection) -> None:
    methods = raw.call(demo, "GET", "/info/import").json()["import-methods"]
    assert methods["type"] == "array" and "glance-direct" in methods["value"]
    stores = list(demo.image.stores())
    assert [(s.id, s.is_default) for s in stores] == [("file", True)]
    raw.assert_glance_error(raw.call(demo, "GET", "/info/stores/detail"), 403)
    usage = raw.call(demo, "GET", "/info/usage").json()["usage"]
    assert set(usage) == {
        "image_size_total",
        "image_stage_total",
        "image_count_total",
        "image_count_uploading",
    }


def test_schemas_are_glances(demo: openstack.connection.Connection) -> None:
    image = demo.image.get_image_schema()
    assert image.properties["status"]["enum"][:3] == ["queued", "saving", "active"]
    assert "qcow2" in image.properties["disk_format"]["enum"]
    assert image.properties["kernel_id"]["is_base"] is False
    assert image.additional_properties == {"type": "string"}
    links = raw.call(demo, "GET", "/schemas/image").json()["links"]
    assert {"rel": "enclosure", "href": "{file}"} in links
    images = demo.image.get_images_schema()
    assert images.properties["images"]["items"]["name"] == "image"
    member = demo.image.get_member_schema()
    assert member.properties["status"]["enum"] == ["pending", "accepted", "rejected"]
    members = demo.image.get_members_schema()
    assert members.properties["members"]["items"]["name"] == "member"


def test_glance_direct_import(demo: openstack.connection.Connection) -> None:
    payload = samples.qcow2(8 << 20)
    image = demo.image.create_image(
        "imported",
        data=payload,
        disk_format="qcow2",
        container_format="bare",
        use_import=True,
        allow_duplicates=True,
    )
    done = wait_for(demo, image.id, "active")
    assert done.checksum == hashlib.md5(payload).hexdigest()
    assert done.virtual_size == 8 << 20
    assert demo.image.download_image(image).content == payload
    demo.image.delete_image(image)


def test_staging_checks_the_data_and_import_activates_it(
    demo: openstack.connection.Connection, make_image: Any
) -> None:
    image = make_image(conn=demo, disk_format="qcow2")
    refused = raw.call(
        demo,
        "PUT",
        f"/images/{image.id}/stage",
        content=samples.mbr_disk(),
        headers={"Content-Type": "application/octet-stream"},
    )
    raw.assert_glance_error(refused, 400, "is in gpt format")
    assert demo.image.get_image(image.id).status == "queued"
    demo.image.stage_image(image, data=samples.qcow2())
    assert demo.image.get_image(image.id).status == "uploading"
    busy = raw.call(demo, "GET", f"/images/{image.id}/file")
    raw.assert_glance_error(busy, 409, "uploading")
    restage = raw.call(
        demo,
        "PUT",
        f"/images/{image.id}/stage",
        content=b"x",
        headers={"Content-Type": "application/octet-stream"},
    )
    raw.assert_glance_error(restage, 409)
    demo.image.import_image(image, method="glance-direct")
    assert wait_for(demo, image.id, "active").size == len(samples.qcow2())
