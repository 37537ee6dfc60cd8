"""Tasks (/v2/tasks, /v2/images/{id}/tasks) and the imports that fetch a URL (web-download,
legacy import tasks), through openstacksdk; the URL fetches go to an HTTP server of this
module's own on loopback, which only a private cloud with open import filtering may reach."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import openstack
import openstack.exceptions as osexc
import pytest

from tests.helpers.isolation import make_tenant
from tests.helpers.server import Server
from tests.image import raw, samples
from tests.image.test_import import wait_for

pytestmark = pytest.mark.xdist_group("image-tasks-cloud")

DISK = samples.qcow2(4 << 20)
ENV = {
    # Any port (the test HTTP server's is random), but not 127.0.0.2.
    "OVERCAST_IMAGE__IMPORT_ALLOWED_PORTS": "[]",
    "OVERCAST_IMAGE__IMPORT_DISALLOWED_HOSTS": '["127.0.0.2"]',
}


class _Handler(http.server.BaseHTTPRequestHandler):
    stall = threading.Event()

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        if self.path == "/disk.qcow2":
            self.send_response(200)
            self.send_header("Content-Length", str(len(DISK)))
            self.end_headers()
            self.wfile.write(DISK)
        elif self.path.startswith("/redirect"):
            host = "127.0.0.2" if self.path.endswith("away") else "127.0.0.1"
            self.send_response(302)
            self.send_header("Location", f"http://{host}:{self.server.server_port}/disk.qcow2")
            self.end_headers()
        elif self.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", str(len(DISK)))
            self.end_headers()
            self.wfile.write(DISK[:1024])
            self.wfile.flush()
            self.stall.wait(30)
        else:
            self.send_error(404)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    _Handler.stall.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("image-tasks"), env=ENV).start()
    yield server
    server.stop()


def image_tasks(conn: openstack.connection.Connection, image_id: str) -> list[dict[str, Any]]:
    response = raw.call(conn, "GET", f"/images/{image_id}/tasks")
    assert response.status_code == 200, response.text
    tasks: list[dict[str, Any]] = response.json()["tasks"]
    return tasks


def settled(conn: openstack.connection.Connection, image_id: str) -> dict[str, Any]:
    """The image's only task, once it has ended."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        (task,) = image_tasks(conn, image_id)
        if task["status"] in ("success", "failure"):
            return task
        time.sleep(0.1)
    raise AssertionError(f"the task of image {image_id} did not end: {task}")


def new_image(conn: openstack.connection.Connection, **attrs: Any) -> Any:
    attrs.setdefault("disk_format", "qcow2")
    return conn.image.create_image(
        f"t-{uuid.uuid4().hex[:6]}", container_format="bare", allow_duplicates=True, **attrs
    )


def test_an_import_is_recorded_as_a_task(demo: openstack.connection.Connection) -> None:
    image = new_image(demo)
    assert image_tasks(demo, image.id) == []
    demo.image.stage_image(image, data=DISK)
    response = demo.image.import_image(image, method="glance-direct")
    wait_for(demo, image.id, "active")
    task = settled(demo, image.id)
    assert task["status"] == "success" and task["type"] == "api_image_import"
    assert task["request_id"] == response.headers["x-openstack-request-id"]
    assert task["input"]["import_req"]["method"]["name"] == "glance-direct"
    assert task["input"]["backend"] == ["file"] and task["image_id"] == image.id
    assert task["owner"] == image.owner and task["user_id"] == demo.current_user_id
    assert task["expires_at"] and task["message"] == ""
    # The tasks API itself is for admins; an admin sees the demo project's task there.
    with pytest.raises(osexc.ForbiddenException):
        list(demo.image.tasks())
    raw.assert_glance_error(raw.call(demo, "GET", f"/tasks/{task['id']}"), 403)
    demo.image.delete_image(image)


def test_image_tasks_of_an_unreadable_image_are_not_found(
    server: Server, admin: openstack.connection.Connection, demo: openstack.connection.Connection
) -> None:
    other = make_tenant(server, admin)
    image = new_image(other.conn, visibility="private")
    raw.assert_glance_error(raw.call(demo, "GET", f"/images/{image.id}/tasks"), 404)
    unknown = str(uuid.uuid4())
    raw.assert_glance_error(raw.call(demo, "GET", f"/images/{unknown}/tasks"), 404)
    other.conn.image.delete_image(image)


def test_task_api_reads(admin: openstack.connection.Connection) -> None:
    unknown = str(uuid.uuid4())
    with pytest.raises(osexc.NotFoundException):
        admin.image.get_task(unknown)
    assert raw.call(admin, "GET", "/tasks?status=success&type=import").status_code == 200
    for query, text in [
        ("status=done", "Invalid status value"),
        ("type=upload", "Invalid type value"),
        ("sort_dir=sideways", "Invalid sort direction"),
        ("sort_key=input", "Invalid sort key"),
        ("limit=-1", "limit"),
        ("limit=x", "limit"),
        ("marker=nope", "Invalid marker format"),
        (f"marker={unknown}", "could not be found"),
        ("colour=red", "Invalid filter"),
    ]:
        raw.assert_glance_error(raw.call(admin, "GET", f"/tasks?{query}"), 400, text)
    schema = raw.call(admin, "GET", "/schemas/task").json()
    assert schema["properties"]["status"]["enum"] == ["pending", "processing", "success", "failure"]
    assert raw.call(admin, "GET", "/schemas/tasks").json()["name"] == "tasks"


def test_bad_import_tasks_are_refused_and_make_nothing(
    admin: openstack.connection.Connection, demo: openstack.connection.Connection
) -> None:
    before = {t.id for t in admin.image.tasks()}
    props = {"disk_format": "qcow2", "container_format": "bare", "name": "never"}
    good = {"import_from": "http://127.0.0.1:8080/disk.qcow2", "import_from_format": "qcow2"}
    cases: list[tuple[Any, str]] = [
        ({"type": "import"}, "Task 'input' is required"),
        ({"input": {}}, "Task 'type' is required"),
        ({"type": "upload", "input": {}}, "Invalid type value"),
        ({"type": "api_image_import", "input": {}}, "image import API"),
        ({"type": "import", "input": "x"}, "must be an object"),
        ({"type": "import", "input": {**good}}, "image_properties"),
        ({"type": "import", "input": {**good, "image_properties": []}}, "image_properties"),
        (
            {"type": "import", "input": {**good, "image_properties": props, "import_from": 7}},
            "import_from",
        ),
        # Port 80 and 443 only by default; no local files; names that do not resolve.
        (
            {"type": "import", "input": {**good, "image_properties": props}},
            "does not pass filtering",
        ),
        (
            {
                "type": "import",
                "input": {**good, "image_properties": props, "import_from": "file:///etc/passwd"},
            },
            "http or https",
        ),
        (
            {
                "type": "import",
                "input": {
                    **good,
                    "image_properties": props,
                    "import_from": f"http://nowhere-{uuid.uuid4().hex}.qcow2",
                },
            },
            "does not pass filtering",
        ),
        (
            {
                "type": "import",
                "input": {
                    **good,
                    "import_from": "http://0x7f000001/disk",
                    "image_properties": props,
                },
            },
            "does not pass filtering",
        ),
        (
            {
                "type": "import",
                "input": {
                    **good,
                    "import_from": "http://127.0.0.1:80/disk",
                    "image_properties": {**props, "disk_format": "floppy"},
                },
            },
            "floppy",
        ),
    ]
    for body, text in cases:
        raw.assert_glance_error(raw.call(admin, "POST", "/tasks", json=body), 400, text)
    raw.assert_glance_error(raw.call(admin, "POST", "/tasks", content=b"[1"), 400)
    allowed = {"type": "import", "input": {**good, "image_properties": props}}
    raw.assert_glance_error(raw.call(demo, "POST", "/tasks", json=allowed), 403)
    assert {t.id for t in admin.image.tasks()} == before
    assert not list(admin.image.images(name="never"))


def test_web_download_is_filtered(demo: openstack.connection.Connection) -> None:
    image = new_image(demo)
    for uri in (
        None,
        5,
        "ftp://127.0.0.1/x",
        "http://127.0.0.1:8080/disk.qcow2",
        "http://a\u0000b/disk",
        "http://[::1/disk",
        f"http://{'a' * 300}/disk",
    ):
        refused = raw.call(
            demo,
            "POST",
            f"/images/{image.id}/import",
            json={"method": {"name": "web-download", "uri": uri}},
        )
        raw.assert_glance_error(refused, 400)
    assert demo.image.get_image(image.id).status == "queued"
    assert image_tasks(demo, image.id) == []
    demo.image.delete_image(image)


def test_web_download(cloud: Server, web: str) -> None:
    conn = cloud.connect("overcast-demo")
    image = new_image(conn)
    conn.image.import_image(image, method="web-download", uri=f"{web}/redirect")
    done = wait_for(conn, image.id, "active")
    assert done.checksum == hashlib.md5(DISK).hexdigest() and done.virtual_size == 4 << 20
    assert conn.image.download_image(image).content == DISK
    task = settled(conn, image.id)
    assert task["status"] == "success"
    assert task["input"]["import_req"]["method"]["uri"] == f"{web}/redirect"
    # A web-download needs a queued image.
    again = raw.call(
        conn,
        "POST",
        f"/images/{image.id}/import",
        json={"method": {"name": "web-download", "uri": f"{web}/disk.qcow2"}},
    )
    raw.assert_glance_error(again, 409, "queued")
    conn.image.delete_image(image)


@pytest.mark.parametrize("path", ["/missing", "/redirect-away"])
def test_a_failed_web_download_puts_the_image_back(cloud: Server, web: str, path: str) -> None:
    conn = cloud.connect("overcast-demo")
    image = new_image(conn)
    conn.image.import_image(image, method="web-download", uri=f"{web}{path}")
    task = settled(conn, image.id)
    assert task["status"] == "failure" and task["message"]
    found = wait_for(conn, image.id, "queued")
    assert found.properties["os_glance_failed_import"] == "file"
    assert found.properties["os_glance_importing_to_stores"] == ""
    usage = raw.call(conn, "GET", "/info/usage").json()["usage"]
    assert usage["image_stage_total"]["usage"] == 0
    # It can be imported afterwards.
    conn.image.import_image(image, method="web-download", uri=f"{web}/disk.qcow2")
    assert wait_for(conn, image.id, "active").size == len(DISK)
    conn.image.delete_image(image)


def test_legacy_import_task(cloud: Server, web: str) -> None:
    admin = cloud.connect("overcast")
    props = {"disk_format": "qcow2", "container_format": "bare", "name": f"task-{uuid.uuid4()}"}
    task = admin.image.create_task(
        type="import",
        input={
            "import_from": f"{web}/disk.qcow2",
            "import_from_format": "qcow2",
            "image_properties": props,
        },
    )
    assert task.status in ("pending", "processing", "success")
    task = admin.image.wait_for_task(task, "success", ["failure"], interval=0.1, wait=30)
    image = admin.image.get_image(task.result["image_id"])
    assert image.status == "active" and image.name == props["name"]
    assert admin.image.download_image(image).content == DISK
    assert task.id in {t.id for t in admin.image.tasks(type="import", status="success")}
    refused = raw.call(admin, "DELETE", f"/tasks/{task.id}")
    raw.assert_glance_error(refused, 405)
    assert refused.headers["allow"] == "GET"
    admin.image.delete_image(image)

    failing = admin.image.create_task(
        type="import",
        input={
            "import_from": f"{web}/missing",
            "import_from_format": "qcow2",
            "image_properties": {**props, "name": "left-queued"},
        },
    )
    failed = admin.image.wait_for_task(failing, "failure", ["success"], interval=0.1, wait=30)
    assert "404" in failed.message and failed.result is None
    shown = raw.call(admin, "GET", f"/tasks/{failed.id}").json()
    assert admin.image.get_image(shown["image_id"]).status == "queued"
    admin.image.delete_image(shown["image_id"])


def test_tasks_running_at_a_crash_fail(start_server: Any, web: str) -> None:
    server: Server = start_server(env=ENV)
    conn = server.connect("overcast")
    image = new_image(conn)
    conn.image.import_image(image, method="web-download", uri=f"{web}/slow")
    wait_for(conn, image.id, "importing")
    server.kill()
    server.start()
    conn = server.connect("overcast")
    assert conn.image.get_image(image.id).status == "queued"
    (task,) = image_tasks(conn, image.id)
    assert task["status"] == "failure" and "restarted" in task["message"]
    conn.image.import_image(image, method="web-download", uri=f"{web}/disk.qcow2")
    assert wait_for(conn, image.id, "active").size == len(DISK)
