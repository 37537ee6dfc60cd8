"""Image data: upload and download through the clients, hashes, ranges, format safety, and
uploads that fail or stop half-way (the image goes back to `queued`, nothing partial is kept)."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import openstack.exceptions as osexc
import pytest

from tests.helpers.server import Server
from tests.image import raw, samples

MIB = samples.MIB


def stored_files(server: Server) -> list[Path]:
    """Every file under the image stores (committed or half-written)."""
    root = server.data_dir / "image"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def wait_status(conn: openstack.connection.Connection, image_id: str, status: str) -> Any:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        image = conn.image.get_image(image_id)
        if image.status == status:
            return image
        time.sleep(0.1)
    raise AssertionError(f"image {image_id} stayed {image.status}, never {status}")


def test_upload_download_roundtrip_with_hashes(
    demo: openstack.connection.Connection, make_image: Any
) -> None:
    payload = samples.qcow2(64 * MIB) + bytes(range(256)) * 4096
    image = make_image(conn=demo, disk_format="qcow2")
    image.upload(demo.image, data=payload)
    shown = demo.image.get_image(image.id)
    assert shown.status == "active"
    assert shown.size == len(payload)
    assert shown.virtual_size == 64 * MIB
    assert shown.checksum == hashlib.md5(payload).hexdigest()
    assert (shown.hash_algo, shown.hash_value) == ("sha512", hashlib.sha512(payload).hexdigest())
    assert shown.properties["stores"] == "file"
    assert demo.image.download_image(image).content == payload
    response = raw.call(demo, "GET", f"/images/{image.id}/file")
    assert response.headers["content-md5"] == shown.checksum
    assert response.headers["content-length"] == str(len(payload))


def test_chunked_upload_and_ranged_download(
    demo: openstack.connection.Connection, make_image: Any
) -> None:
    parts = [bytes([i]) * (300 * 1024 + i) for i in range(8)]

    def stream() -> Iterator[bytes]:  # no length known: requests sends it chunked
        yield from parts

    image = make_image(conn=demo)
    image.upload(demo.image, data=stream())
    whole = b"".join(parts)
    assert demo.image.get_image(image.id).size == len(whole)
    part = demo.image.get(f"/images/{image.id}/file", headers={"Range": "bytes=1000-2999"})
    assert part.status_code == 206 and part.content == whole[1000:3000]
    assert part.headers["content-range"] == f"bytes 1000-2999/{len(whole)}"
    tail = demo.image.get(f"/images/{image.id}/file", headers={"Range": "bytes=-10"})
    assert tail.content == whole[-10:]
    beyond = raw.call(demo, "GET", f"/images/{image.id}/file", headers={"Range": "bytes=99999999-"})
    raw.assert_glance_error(beyond, 416)


@pytest.mark.parametrize(
    ("disk_format", "data", "message"),
    [
        ("raw", samples.qcow2(), "is in qcow2 format but the image's disk_format is raw"),
        ("qcow2", b"\x00" * 70000, "is in raw format but the image's disk_format is qcow2"),
        ("vmdk", samples.vhd_dynamic(), "is in vhd format"),
        ("qcow2", samples.qcow2(backing="/etc/shadow"), "has a backing file"),
        ("qcow2", samples.qcow2(data_file="/etc/shadow"), "external data file"),
        ("vmdk", samples.vmdk_descriptor(), "bare descriptor"),
        ("raw", samples.vmdk_descriptor(), "bare descriptor"),
        ("vhdx", samples.vhdx(parent=True), "differencing"),
    ],
)
def test_wrong_or_unsafe_data_is_refused_and_can_be_retried(
    server: Server,
    demo: openstack.connection.Connection,
    make_image: Any,
    disk_format: str,
    data: bytes,
    message: str,
) -> None:
    image = make_image(conn=demo, disk_format=disk_format)
    refused = raw.call(
        demo,
        "PUT",
        f"/images/{image.id}/file",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    raw.assert_glance_error(refused, 400, message)
    after = demo.image.get_image(image.id)
    assert (after.status, after.size, after.checksum) == ("queued", None, None)
    assert not any(image.id in p.name for p in stored_files(server))
    assert demo.image.get(f"/images/{image.id}/file").status_code == 204  # no data
    good = samples.qcow2() if disk_format == "qcow2" else None
    if good is not None:
        image.upload(demo.image, data=good)
        assert demo.image.get_image(image.id).status == "active"


def test_upload_rules(demo: openstack.connection.Connection, make_image: Any) -> None:
    octet = {"Content-Type": "application/octet-stream"}
    bare = raw.call(demo, "POST", "/images", json={"name": "no-formats"}).json()
    raw.assert_glance_error(
        raw.call(demo, "PUT", f"/images/{bare['id']}/file", content=b"x", headers=octet),
        400,
        "container_format, disk_format must be set",
    )
    demo.image.delete_image(bare["id"])
    image = make_image(conn=demo)
    raw.assert_glance_error(
        raw.call(
            demo,
            "PUT",
            f"/images/{image.id}/file",
            content=b"x",
            headers={"Content-Type": "application/json"},
        ),
        415,
    )
    raw.assert_glance_error(
        raw.call(
            demo,
            "PUT",
            f"/images/{image.id}/file",
            content=b"abc",
            headers={**octet, "X-OpenStack-Image-Size": "nope"},
        ),
        400,
        "x-openstack-image-size",
    )
    image.upload(demo.image, data=b"first")
    again = raw.call(demo, "PUT", f"/images/{image.id}/file", content=b"second", headers=octet)
    raw.assert_glance_error(again, 409, "transition from active to saving is not allowed")
    assert demo.image.download_image(image).content == b"first"
    raw.assert_glance_error(
        raw.call(demo, "PUT", f"/images/{uuid.uuid4()}/file", content=b"x", headers=octet), 404
    )


def test_interrupted_upload_leaves_a_queued_image_to_retry(
    server: Server, demo: openstack.connection.Connection, make_image: Any
) -> None:
    image = make_image(conn=demo)
    sock = raw.open_upload(demo, image.id, 64 * MIB, b"\x01" * MIB)
    wait_status(demo, image.id, "saving")
    busy = raw.call(demo, "GET", f"/images/{image.id}/file")
    raw.assert_glance_error(busy, 409, "is saving")
    again = raw.call(
        demo,
        "PUT",
        f"/images/{image.id}/file",
        content=b"x",
        headers={"Content-Type": "application/octet-stream"},
    )
    raw.assert_glance_error(again, 409)
    sock.close()  # the client goes away half-way
    after = wait_status(demo, image.id, "queued")
    assert after.size is None and after.checksum is None
    assert demo.image.get(f"/images/{image.id}/file").status_code == 204
    deadline = time.monotonic() + 5
    while any(image.id in p.name for p in stored_files(server)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(image.id in p.name for p in stored_files(server))
    image.upload(demo.image, data=b"\x02" * MIB)  # retry works
    assert demo.image.download_image(image).content == b"\x02" * MIB


def test_short_body_is_refused(demo: openstack.connection.Connection, make_image: Any) -> None:
    image = make_image(conn=demo)
    liar = raw.call(
        demo,
        "PUT",
        f"/images/{image.id}/file",
        content=b"12345",
        headers={"Content-Type": "application/octet-stream", "X-OpenStack-Image-Size": "10"},
    )
    raw.assert_glance_error(liar, 400, "does not match the Content-Length")
    assert demo.image.get_image(image.id).status == "queued"
    other = make_image(conn=demo)
    chunked = raw.call(
        demo,
        "PUT",
        f"/images/{other.id}/file",
        content=iter([b"12345"]),
        headers={"Content-Type": "application/octet-stream", "X-OpenStack-Image-Size": "10"},
    )
    raw.assert_glance_error(chunked, 400, "10 bytes were announced")
    assert demo.image.get_image(other.id).status == "queued"


def test_delete_during_upload_keeps_nothing(
    server: Server, demo: openstack.connection.Connection, make_image: Any
) -> None:
    image = make_image(conn=demo)
    sock = raw.open_upload(demo, image.id, 2 * MIB, b"\x01" * MIB)
    wait_status(demo, image.id, "saving")
    demo.image.delete_image(image)
    sock.sendall(b"\x01" * MIB)
    reply = sock.recv(4096).decode()
    sock.close()
    assert reply.startswith("HTTP/1.1 410"), reply
    with pytest.raises(osexc.NotFoundException):
        demo.image.get_image(image.id)
    assert not any(image.id in p.name for p in stored_files(server))
