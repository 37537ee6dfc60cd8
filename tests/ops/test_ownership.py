"""One owner per data dir: a second `overcast up` on a data dir or a port in use refuses at
once, naming the process that holds it, and changes nothing of the running cloud."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.compute.conftest import boot
from tests.helpers.server import Server, free_port
from tests.ops.command import overcast


def test_second_up_refuses_and_touches_nothing(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    srv = start_server(env={"OVERCAST_SHUTDOWN_TIMEOUT": "1"})  # not waiting for the long build
    assert srv.process is not None
    admin = srv.connect("overcast")
    image = admin.image.create_image(
        name=f"img-{uuid.uuid4().hex[:6]}",
        data=b"\0" * 1024,
        disk_format="raw",
        container_format="bare",
        visibility="public",
    )
    building = boot(admin, image, metadata={"fake:spawn_delay": "120"})
    deadline = time.monotonic() + 30
    while admin.compute.get_server(building.id).task_state != "spawning":
        assert time.monotonic() < deadline, "the build never reached its host"
        time.sleep(0.05)
    clouds = srv.clouds_yaml.read_bytes(), srv.clouds_yaml.stat().st_mtime_ns

    again = overcast("up", "--data-dir", str(srv.data_dir), "--port", str(free_port()))
    assert again.returncode == 1
    assert f"{srv.data_dir} is in use by process {srv.process.pid}" in again.stderr
    assert "migrations" not in again.stdout and "Overcast is up" not in again.stdout

    upgrade = overcast("db", "upgrade", "--data-dir", str(srv.data_dir))
    assert upgrade.returncode == 1 and f"in use by process {srv.process.pid}" in upgrade.stderr

    other = tmp_path / "other"
    taken = overcast("up", "--data-dir", str(other), "--port", str(srv.port))
    assert taken.returncode == 1
    assert f"127.0.0.1:{srv.port}" in taken.stderr and f"pid {srv.process.pid}" in taken.stderr
    assert not (other / "overcast.db").exists() and not (other / "clouds.yaml").exists()

    # The first cloud's build goes on (recovery would have put it in ERROR at once); its
    # files are as they were.
    still = admin.compute.get_server(building.id)
    assert (still.status, still.task_state, still.fault) == ("BUILD", "spawning", None)
    assert (srv.clouds_yaml.read_bytes(), srv.clouds_yaml.stat().st_mtime_ns) == clouds
    assert srv.process.poll() is None
    admin.compute.delete_server(building.id)
