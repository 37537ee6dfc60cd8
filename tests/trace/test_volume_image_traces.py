"""The traces of a volume create and an image upload, under their own services, with the same
rules as a server's: the owner reads them, another project gets 404."""

from __future__ import annotations

from typing import Any

import openstack

from tests.helpers.isolation import Tenant
from tests.trace import steps


def test_volume_create_is_traced(
    demo: openstack.connection.Connection, tenant_factory: Any
) -> None:
    volume = demo.block_storage.create_volume(size=1, name="traced")
    demo.block_storage.wait_for_status(volume, "available", wait=30, interval=0.1)
    trace = steps.wait_trace(
        demo.block_storage, f"/volumes/{volume.id}/trace", steps.has("available")
    )
    assert trace["action"] == "create"
    steps.in_order(
        trace,
        "token checked",
        "request validated",
        "quota reserved",
        "record written",
        "scheduled",
        "volume agent",
        "volume made by the back end",
        "available",
    )
    spans = trace["spans"]
    assert all(s["status"] == "ok" and s["host"] is None for s in spans)
    assert any(s["kind"] == "driver" and s["name"].endswith(".create_volume") for s in spans)
    scheduled = next(s for s in spans if s["name"] == "scheduled")
    assert scheduled["info"]["candidates"] >= 1 and "host" not in scheduled["info"]
    other: Tenant = tenant_factory()
    assert other.conn.block_storage.get(f"/volumes/{volume.id}/trace").status_code == 404
    demo.block_storage.delete_volume(volume)


def test_image_upload_is_traced(demo: openstack.connection.Connection, tenant_factory: Any) -> None:
    image = demo.image.create_image(
        name="traced", data=b"x" * 300_000, disk_format="raw", container_format="bare"
    )
    trace = steps.wait_trace(demo.image, f"/images/{image.id}/trace", steps.has("active"))
    assert trace["action"] == "upload"
    steps.in_order(trace, "token checked", "data stored", "checksums recorded", "active")
    stored = next(s for s in trace["spans"] if s["name"] == "data stored")
    assert stored["info"]["bytes"] == 300_000 and stored["status"] == "ok"
    other: Tenant = tenant_factory()
    assert other.conn.image.get(f"/images/{image.id}/trace").status_code == 404
    demo.image.delete_image(image)
