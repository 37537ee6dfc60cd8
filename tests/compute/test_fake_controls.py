"""The fake driver's documented controls, set as image properties through the `openstack` CLI
(the image service returns them as top-level image fields) and seen through real clients."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from tests.compute.conftest import boot, wait_for
from tests.helpers.server import Server


def _image(server: Server, tmp_path: Path, *properties: str) -> str:
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 4096)
    name = f"fake-{uuid.uuid4().hex[:6]}"
    args = [a for p in properties for a in ("--property", p)]
    server.cli_json(
        "image", "create", "--public", "--disk-format", "raw", "--container-format", "bare",
        "--file", str(disk), *args, name,
    )  # fmt: skip
    return name


def _boot(server: Server, image: str, *extra: str) -> dict[str, Any]:
    name = f"vm-{uuid.uuid4().hex[:6]}"
    return server.cli_json(
        "server", "create", "--image", image, "--flavor", "m1.tiny", "--nic", "none", *extra, name
    )


def test_fail_spawn_image_property(server: Server, admin: Any, tmp_path: Path) -> None:
    image = _image(server, tmp_path, "fake:fail_spawn=true")
    created = _boot(server, image)
    failed = wait_for(admin, created["id"], "ERROR")
    assert "fake driver was told to fail" in failed.fault["message"]
    # A list of hosts fails only there: forced onto another host, the build succeeds.
    image = _image(server, tmp_path, "fake:fail_spawn=compute1,compute3")
    on_two = _boot(server, image, "--availability-zone", "nova:compute2")
    assert wait_for(admin, on_two["id"], "ACTIVE").compute_host == "compute2"
    on_one = _boot(server, image, "--availability-zone", "nova:compute1")
    assert wait_for(admin, on_one["id"], "ERROR").compute_host in (None, "compute1")
    for vm in (created, on_two, on_one):
        server.cli("server", "delete", "--wait", vm["id"])


def test_spawn_delay_image_property(server: Server, admin: Any, tmp_path: Path) -> None:
    name = _image(server, tmp_path, "fake:spawn_delay=4")
    image = admin.image.find_image(name)
    assert image.properties["fake:spawn_delay"] == "4"
    started = time.monotonic()
    created = boot(admin, image)
    assert admin.compute.get_server(created.id).status == "BUILD"
    wait_for(admin, created.id, "ACTIVE", timeout=30)
    assert time.monotonic() - started >= 4
    server.cli("server", "delete", "--wait", created.id)
