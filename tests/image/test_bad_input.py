"""Bad input answered with Glance's own 4xx error page, and nothing changed: malformed JSON and
patch documents, wrong types, read-only and reserved names, unknown ids, bad queries."""

from __future__ import annotations

import uuid
from typing import Any

import openstack
import pytest

from tests.image import raw, samples

PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}


def snapshot(conn: openstack.connection.Connection, image_id: str) -> dict[str, Any]:
    return raw.call(conn, "GET", f"/images/{image_id}").json()


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        (b"{not json", 400, "Malformed JSON"),
        (b"", 400, "Body expected"),
        (b"[1, 2]", 400, "is not of type 'object'"),
        (b'{"name": 12}', 400, "12 is not of type 'null', 'string'"),
        (b'{"name": "x", "min_ram": "lots"}', 400, "'lots' is not of type 'integer'"),
        (b'{"name": "x", "min_disk": -1}', 400, "Cannot be a negative value"),
        (b'{"visibility": "everyone"}', 400, "'everyone' is not one of"),
        (b'{"disk_format": "exe"}', 400, "'exe' is not one of"),
        (b'{"protected": "yes"}', 400, "'yes' is not of type 'boolean'"),
        (b'{"tags": "one"}', 400, "'one' is not of type 'array'"),
        (b'{"tags": [1]}', 400, "1 is not of type 'string'"),
        (b'{"hw_disk_bus": 7}', 400, "7 is not of type 'string'"),
        (b'{"kernel_id": "not-a-uuid"}', 400, "does not match"),
        (b'{"id": "not-a-uuid"}', 400, "does not match"),
        (b'{"name": "' + b"n" * 256 + b'"}', 400, "is too long"),
        (b'{"status": "active"}', 403, "Attribute 'status' is read-only."),
        (b'{"size": 5}', 403, "Attribute 'size' is read-only."),
        (b'{"checksum": "abc"}', 403, "Attribute 'checksum' is read-only."),
        (b'{"self": "/x"}', 403, "Attribute 'self' is read-only."),
        (b'{"os_glance_import_task": "x"}', 403, "is reserved"),
        (b'{"deleted": "x"}', 403, "is reserved"),
        (b'{"owner": "someone-else"}', 403, ""),
    ],
)
def test_bad_create_bodies_create_nothing(
    demo: openstack.connection.Connection, body: bytes, status: int, text: str
) -> None:
    tag = f"bad-{uuid.uuid4().hex[:8]}"
    before = {i.id for i in demo.image.images()}
    answer = raw.call(
        demo, "POST", "/images", content=body, headers={"Content-Type": "application/json"}
    )
    raw.assert_glance_error(answer, status, text)
    assert {i.id for i in demo.image.images()} == before
    assert list(demo.image.images(tag=tag)) == []


def test_duplicate_id_is_a_conflict(demo: openstack.connection.Connection, make_image: Any) -> None:
    image = make_image(conn=demo)
    again = raw.call(demo, "POST", "/images", json={"id": image.id, "name": "twin"})
    raw.assert_glance_error(again, 409, "already exists")


BAD_PATCHES = [
    ({"Content-Type": "application/json"}, [], 415, "Unsupported media type"),
    (PATCH, {"op": "replace"}, 400, "must be a JSON array"),
    (PATCH, ["replace"], 400, "Operations must be JSON objects"),
    (PATCH, [{"path": "/name", "value": "x"}], 400, "Unable to find `op`"),
    (PATCH, [{"op": "move", "path": "/name", "from": "/x"}], 400, "Invalid operation: `move`"),
    (PATCH, [{"op": "test", "path": "/name", "value": "x"}], 400, "Invalid operation"),
    (PATCH, [{"op": "replace", "value": "x"}], 400, "Unable to find 'path'"),
    (PATCH, [{"op": "replace", "path": "name", "value": "x"}], 400, 'does not start with "/"'),
    (PATCH, [{"op": "replace", "path": "/a//b", "value": "x"}], 400, 'adjacent "/"'),
    (PATCH, [{"op": "replace", "path": "/name/x", "value": "x"}], 400, "Invalid JSON pointer"),
    (PATCH, [{"op": "replace", "path": "/a~2", "value": "x"}], 400, "recognized escape"),
    (PATCH, [{"op": "replace", "path": "/name"}], 400, 'requires a member named "value"'),
    (PATCH, [{"op": "replace", "path": "/name", "value": 5}], 400, "5 is not of type"),
    (PATCH, [{"op": "replace", "path": "/min_ram", "value": "x"}], 400, "not of type 'integer'"),
    (PATCH, [{"op": "replace", "path": "/visibility", "value": "all"}], 400, "is not one of"),
    (PATCH, [{"op": "add", "path": "/hw_disk_bus", "value": 1}], 400, "1 is not of type"),
    (PATCH, [{"op": "replace", "path": "/status", "value": "active"}], 403, "read-only"),
    (PATCH, [{"op": "replace", "path": "/id", "value": "x"}], 403, "read-only"),
    (PATCH, [{"op": "add", "path": "/checksum", "value": "x"}], 403, "read-only"),
    (PATCH, [{"op": "add", "path": "/os_glance_x", "value": "x"}], 403, "reserved"),
    (PATCH, [{"op": "add", "path": "/deleted", "value": "x"}], 403, "reserved"),
    (PATCH, [{"op": "remove", "path": "/name"}], 403, "may not be removed"),
    (PATCH, [{"op": "replace", "path": "/nothing_here", "value": "x"}], 409, "does not exist"),
    (PATCH, [{"op": "remove", "path": "/nothing_here"}], 409, "does not exist"),
    (
        PATCH,
        [
            {
                "op": "add",
                "path": "/locations/-",
                "value": {"url": "file:///etc/passwd", "metadata": {}},
            }
        ],
        403,
        "locations",
    ),
    (PATCH, [{"op": "replace", "path": "/owner", "value": "me"}], 403, "Owner can't be updated"),
    (PATCH, [{"op": "replace", "path": "/visibility", "value": "public"}], 403, "publicize_image"),
    (PATCH, [{"op": "replace", "path": "/disk_format", "value": "raw"}], 403, "queued image"),
    # a good first operation does not survive a bad second one
    (
        PATCH,
        [
            {"op": "replace", "path": "/name", "value": "half"},
            {"op": "remove", "path": "/nothing_here"},
        ],
        409,
        "does not exist",
    ),
]


@pytest.mark.parametrize(("headers", "body", "status", "text"), BAD_PATCHES)
def test_bad_patches_change_nothing(
    demo: openstack.connection.Connection,
    make_image: Any,
    headers: dict[str, str],
    body: Any,
    status: int,
    text: str,
) -> None:
    image = make_image(conn=demo, disk_format="qcow2", hw_disk_bus="virtio")
    image.upload(demo.image, data=samples.qcow2())
    before = snapshot(demo, image.id)
    answer = raw.call(demo, "PATCH", f"/images/{image.id}", json=body, headers=headers)
    raw.assert_glance_error(answer, status, text)
    if status == 415:
        assert "openstack-images-v2.1-json-patch" in answer.headers["accept-patch"]
    assert snapshot(demo, image.id) == before


def test_v20_patch_dialect(demo: openstack.connection.Connection, make_image: Any) -> None:
    image = make_image(conn=demo, hw_disk_bus="virtio")
    headers = {"Content-Type": "application/openstack-images-v2.0-json-patch"}
    ok = raw.call(
        demo,
        "PATCH",
        f"/images/{image.id}",
        headers=headers,
        json=[{"replace": "/name", "value": "v20"}, {"add": "/os_distro", "value": "x"}],
    )
    assert ok.status_code == 200 and ok.json()["name"] == "v20" and ok.json()["os_distro"] == "x"
    conflict = raw.call(
        demo,
        "PATCH",
        f"/images/{image.id}",
        headers=headers,
        json=[{"add": "/os_distro", "value": "y"}],
    )
    raw.assert_glance_error(conflict, 409, "already present")
    two = raw.call(
        demo,
        "PATCH",
        f"/images/{image.id}",
        headers=headers,
        json=[{"add": "/a", "replace": "/b", "value": "y"}],
    )
    raw.assert_glance_error(two, 400, "only one member")


def test_good_patch_operations(demo: openstack.connection.Connection, make_image: Any) -> None:
    image = make_image(conn=demo, hw_disk_bus="virtio", os_distro="cirros")
    ops = [
        {"op": "replace", "path": "/name", "value": "patched"},
        {"op": "add", "path": "/hw_video_model", "value": "vga"},
        {"op": "add", "path": "/os_distro", "value": "ubuntu"},  # add replaces in v2.1
        {"op": "remove", "path": "/hw_disk_bus"},
        {"op": "replace", "path": "/tags", "value": ["x", "y", "x"]},
        {"op": "add", "path": "/a~1b~0c", "value": "escaped"},
        {"op": "replace", "path": "/kernel_id", "value": None},
    ]
    ops.insert(0, {"op": "add", "path": "/kernel_id", "value": str(uuid.uuid4())})
    done = raw.call(demo, "PATCH", f"/images/{image.id}", json=ops, headers=PATCH).json()
    assert done["name"] == "patched" and done["hw_video_model"] == "vga"
    assert done["os_distro"] == "ubuntu" and "hw_disk_bus" not in done
    assert sorted(done["tags"]) == ["x", "y"] and done["a/b~c"] == "escaped"
    assert done["kernel_id"] is None
    assert raw.call(demo, "PATCH", f"/images/{image.id}", json=[], headers=PATCH).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/images/{missing}", 404),
        ("PATCH", "/images/{missing}", 404),
        ("DELETE", "/images/{missing}", 404),
        ("GET", "/images/{missing}/file", 404),
        ("GET", "/images/{missing}/members", 404),
        ("POST", "/images/{missing}/actions/deactivate", 404),
        ("POST", "/images/{image}/actions/explode", 404),
        ("PUT", "/images/{image}/tags/" + "t" * 256, 400),
        ("GET", "/images/{image}/members/{missing}", 404),
        ("GET", "/schemas/nothing", 404),
        ("GET", "/nowhere", 404),
        ("PUT", "/images", 405),
        ("GET", "/images?limit=-1", 400),
        ("GET", "/images?limit=many", 400),
        ("GET", "/images?sort_key=owner", 400),
        ("GET", "/images?sort_dir=up", 400),
        ("GET", "/images?sort=name:sideways", 400),
        ("GET", "/images?sort=name&sort_key=name", 400),
        ("GET", "/images?visibility=everyone", 400),
        ("GET", "/images?member_status=maybe", 400),
        ("GET", "/images?marker={missing}", 400),
        ("GET", "/images?os_hidden=perhaps", 400),
        ("GET", "/images?protected=2", 400),
        ("GET", "/images?size_min=big", 400),
        ("GET", "/images?created_at=gt:yesterday", 400),
    ],
)
def test_unknown_ids_and_bad_queries(
    demo: openstack.connection.Connection, make_image: Any, method: str, path: str, status: int
) -> None:
    image = make_image(conn=demo)
    url = path.format(missing=uuid.uuid4(), image=image.id)
    answer = raw.call(
        demo,
        method,
        url,
        headers={**PATCH} if method == "PATCH" else {},
        content=b"[]" if method == "PATCH" else None,
    )
    raw.assert_glance_error(answer, status)


@pytest.mark.parametrize(
    ("path", "body", "status", "text"),
    [
        ("/members", {}, 400, "Member to be added not specified"),
        ("/members", {"member": 5}, 400, "not specified"),
        ("/import", {}, 400, "requires a 'method' field"),
        ("/import", {"method": {}}, 400, "requires a 'name' field"),
        ("/import", {"method": {"name": "glance-download"}}, 400, "Unknown import method"),
        ("/import", {"method": {"name": "web-download"}}, 400, "A URI is required"),
        ("/import", {"method": {"name": "glance-direct"}, "stores": ["nope"]}, 400, "not found"),
        ("/import", {"method": {"name": "glance-direct"}, "all_stores": "yes"}, 400, "boolean"),
        ("/import", {"method": {"name": "glance-direct"}}, 409, "needs to be staged"),
    ],
)
def test_bad_member_and_import_requests(
    demo: openstack.connection.Connection,
    make_image: Any,
    path: str,
    body: Any,
    status: int,
    text: str,
) -> None:
    image = make_image(conn=demo)
    answer = raw.call(demo, "POST", f"/images/{image.id}{path}", json=body)
    raw.assert_glance_error(answer, status, text)
    assert demo.image.get_image(image.id).status == "queued"


def test_member_status_must_be_known(
    demo: openstack.connection.Connection, tenant_factory: Any, make_image: Any
) -> None:
    other = tenant_factory()
    image = make_image(conn=demo)
    demo.image.add_member(image.id, member_id=other.project_id)
    url = f"/images/{image.id}/members/{other.project_id}"
    for body, text in (({"status": "maybe"}, "is not one of"), ({}, "Status not specified")):
        raw.assert_glance_error(raw.call(other.conn, "PUT", url, json=body), 400, text)
    assert other.conn.image.get_member(other.project_id, image.id).status == "pending"


def test_requests_without_a_token_are_refused(demo: openstack.connection.Connection) -> None:
    import httpx

    answer = httpx.get(raw.endpoint(demo) + "/images")
    raw.assert_glance_error(answer, 401)
    assert "Keystone uri=" in answer.headers["www-authenticate"]
