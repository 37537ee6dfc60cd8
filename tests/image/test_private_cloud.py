"""Settings the shared cloud does not have, on a private cloud of this module's own: small
quotas (enforced atomically, even under racing requests), two stores, and crash recovery."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openstack
import openstack.exceptions as osexc
import pytest

from tests.helpers.isolation import Tenant, make_tenant
from tests.helpers.server import Server
from tests.image import raw

# The module's tests share one private cloud: keep them on one xdist worker (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("image-private-cloud")

MIB = 1 << 20
OCTET = {"Content-Type": "application/octet-stream"}
ENV = {
    "OVERCAST_IMAGE__STORES": '["fast", "cheap"]',
    "OVERCAST_IMAGE__STORE_DRIVERS": '{"fast": "file", "cheap": "file"}',
    "OVERCAST_IMAGE__DEFAULT_STORE": "fast",
    "OVERCAST_IMAGE__IMAGE_COUNT_QUOTA": "3",
    "OVERCAST_IMAGE__IMAGE_SIZE_QUOTA_GB": str(2 / 1024),  # 2 MiB
}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("image-cloud"), env=ENV).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cloud_admin(cloud: Server) -> openstack.connection.Connection:
    return cloud.connect("overcast")


@pytest.fixture
def tenant(cloud: Server, cloud_admin: openstack.connection.Connection) -> Tenant:
    return make_tenant(cloud, cloud_admin)


def new_image(conn: openstack.connection.Connection, **attrs: Any) -> Any:
    return conn.image.create_image(
        f"q-{uuid.uuid4().hex[:6]}",
        disk_format="raw",
        container_format="bare",
        allow_duplicates=True,
        **attrs,
    )


def test_image_count_quota(tenant: Tenant) -> None:
    conn = tenant.conn
    made = [new_image(conn) for _ in range(3)]
    with pytest.raises(osexc.HttpException) as over:
        new_image(conn)
    assert over.value.status_code == 413
    usage = raw.call(conn, "GET", "/info/usage").json()["usage"]["image_count_total"]
    assert usage == {"limit": 3, "usage": 3}
    conn.image.delete_image(made[0])
    new_image(conn)


def test_image_count_quota_holds_under_racing_creates(tenant: Tenant) -> None:
    def attempt(_: int) -> int:
        return raw.call(tenant.conn, "POST", "/images", json={"name": "race"}).status_code

    with ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(attempt, range(10)))
    assert sorted(codes) == [201] * 3 + [413] * 7
    assert len(list(tenant.conn.image.images())) == 3


def test_image_size_quota(tenant: Tenant) -> None:
    conn = tenant.conn
    first = new_image(conn)
    first.upload(conn.image, data=b"\x01" * (3 * MIB // 2))
    second = new_image(conn)
    announced = raw.call(
        conn, "PUT", f"/images/{second.id}/file", content=b"\x02" * MIB, headers=OCTET
    )
    raw.assert_glance_error(announced, 413)
    streamed = raw.call(
        conn,
        "PUT",
        f"/images/{second.id}/file",
        content=iter([b"\x02" * (MIB // 4)] * 4),
        headers=OCTET,
    )
    raw.assert_glance_error(streamed, 413)
    assert conn.image.get_image(second.id).status == "queued"
    conn.image.delete_image(first)
    second.upload(conn.image, data=b"\x02" * MIB)
    assert conn.image.get_image(second.id).status == "active"
    used = raw.call(conn, "GET", "/info/usage").json()["usage"]["image_size_total"]
    assert used == {"limit": 2, "usage": 1}


def test_several_stores(cloud_admin: openstack.connection.Connection) -> None:
    conn = cloud_admin
    assert {(s.id, bool(s.is_default)) for s in conn.image.stores()} == {
        ("fast", True),
        ("cheap", False),
    }
    detail = raw.call(conn, "GET", "/info/stores/detail").json()["stores"]
    assert {s["type"] for s in detail} == {"file"}
    image = new_image(conn)
    put = raw.call(
        conn,
        "PUT",
        f"/images/{image.id}/file",
        content=b"two stores",
        headers={**OCTET, "X-Image-Meta-Store": "cheap"},
    )
    assert put.status_code == 204
    assert conn.image.get_image(image.id).properties["stores"] == "cheap"
    conn.image.import_image(image, method="copy-image", stores=["fast"])
    deadline = time.monotonic() + 20
    while conn.image.get_image(image.id).properties["stores"] != "cheap,fast":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    done = raw.call(conn, "GET", f"/images/{image.id}").json()
    # the copy reports its end as Glance does: no store left importing, none failed
    assert done["os_glance_importing_to_stores"] == "" and done["os_glance_failed_import"] == ""
    conn.image.delete_image(image, store="cheap", ignore_missing=False)
    assert conn.image.get_image(image.id).properties["stores"] == "fast"
    last = raw.call(conn, "DELETE", f"/stores/fast/{image.id}")
    raw.assert_glance_error(last, 409, "only store")
    assert conn.image.download_image(image).content == b"two stores"
    unknown = raw.call(
        conn,
        "PUT",
        f"/images/{new_image(conn).id}/file",
        content=b"x",
        headers={**OCTET, "X-Image-Meta-Store": "nowhere"},
    )
    raw.assert_glance_error(unknown, 400, "nowhere")


def test_crash_during_upload_is_recovered(start_server: Any) -> None:
    server: Server = start_server()
    conn = server.connect("overcast")
    image = new_image(conn)
    sock = raw.open_upload(conn, image.id, 64 * MIB, b"\x01" * MIB)
    deadline = time.monotonic() + 10
    while conn.image.get_image(image.id).status != "saving":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    server.kill()
    sock.close()
    server.start()
    conn = server.connect("overcast")
    assert conn.image.get_image(image.id).status == "queued"
    leftovers = [p for p in (server.data_dir / "image").rglob("*") if p.is_file()]
    assert leftovers == []
    image.upload(conn.image, data=b"after the crash")
    assert conn.image.download_image(image).content == b"after the crash"


def test_a_failing_store_kills_the_image(
    cloud: Server, cloud_admin: openstack.connection.Connection
) -> None:
    image = new_image(cloud_admin)
    blocker = cloud.data_dir / "image" / "cheap"
    blocker.mkdir(parents=True, exist_ok=True)
    moved = blocker.with_name("cheap.moved")
    blocker.rename(moved)
    blocker.write_bytes(b"not a directory")  # the store cannot write any more
    try:
        failed = raw.call(
            cloud_admin,
            "PUT",
            f"/images/{image.id}/file",
            content=b"data",
            headers={**OCTET, "X-Image-Meta-Store": "cheap"},
        )
        raw.assert_glance_error(failed, 503, "killed")
    finally:
        blocker.unlink()
        moved.rename(blocker)
    assert cloud_admin.image.get_image(image.id).status == "killed"
    again = raw.call(cloud_admin, "PUT", f"/images/{image.id}/file", content=b"x", headers=OCTET)
    raw.assert_glance_error(again, 409)
    cloud_admin.image.delete_image(image, ignore_missing=False)


def test_changing_the_owner_moves_the_usage(
    cloud: Server, cloud_admin: openstack.connection.Connection
) -> None:
    giver, taker = make_tenant(cloud, cloud_admin), make_tenant(cloud, cloud_admin)
    made = [new_image(giver.conn) for _ in range(3)]
    made[0].upload(giver.conn.image, data=b"\x01" * MIB)
    cloud_admin.image.update_image(made[0].id, owner_id=taker.project_id)
    assert taker.conn.image.get_image(made[0].id).owner == taker.project_id
    new_image(giver.conn)  # the giver has room for one more
    usage = raw.call(taker.conn, "GET", "/info/usage").json()["usage"]
    assert usage["image_count_total"]["usage"] == 1
    assert usage["image_size_total"]["usage"] == 1
