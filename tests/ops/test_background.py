"""`overcast up --detach` / `start`, `status`, `wait`, `stop` and `/healthcheck`, through the
real command; a stop lets a build in flight finish; Ctrl-C in the foreground (and under
`make up`) stops quietly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import openstack
import openstack.config

from tests.compute.conftest import boot, wait_for
from tests.helpers.server import FAST_ENV, Server, free_port
from tests.ops.command import overcast

REPO = Path(__file__).resolve().parents[2]


def _connect(data_dir: Path) -> openstack.connection.Connection:
    config = openstack.config.OpenStackConfig(config_files=[str(data_dir / "clouds.yaml")])
    return openstack.connection.Connection(config=config.get_one(cloud="overcast"))


def test_detach_status_wait_stop(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "cloud", free_port()
    where = ("--data-dir", str(data_dir))
    started = overcast("up", "--detach", *where, "--port", str(port))
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "first start" in started.stdout and "applying database migrations" in started.stdout
        assert "running in the background" in started.stdout
        pid = int((data_dir / "overcast.pid").read_text())
        assert (data_dir / "overcast.log").stat().st_size > 0

        status = overcast("status", *where)
        assert status.returncode == 0, status.stdout
        assert f"pid {pid}" in status.stdout and "driver: fake" in status.stdout
        for name in ("listener", "identity", "image", "compute"):
            assert f"  {name} " in status.stdout
        assert "no answer" not in status.stdout and "fails" not in status.stdout
        report = json.loads(overcast("status", "--json", *where).stdout)
        assert report["running"] and report["ready"] and report["pid"] == pid
        assert report["drivers"]["compute"]["driver"] == "fake"
        assert report["url"] == f"http://127.0.0.1:{port}"
        assert overcast("wait", *where, "--timeout", "10").returncode == 0

        probe = httpx.get(f"http://127.0.0.1:{port}/healthcheck")
        assert (probe.status_code, probe.text) == (200, "OK")
        assert httpx.post(f"http://127.0.0.1:{port}/healthcheck").status_code == 405

        refused = overcast("start", *where, "--port", str(free_port()))
        assert refused.returncode == 1 and f"in use by process {pid}" in refused.stdout

        # A stop waits for the build in flight: after a restart it is ACTIVE, not ERROR.
        admin = _connect(data_dir)
        image = admin.image.create_image(
            name="img", data=b"\0" * 1024, disk_format="raw", container_format="bare"
        )
        building = boot(admin, image, metadata={"fake:spawn_delay": "3"})
        time.sleep(0.5)
        stopped = overcast("stop", *where)
        assert stopped.returncode == 0 and "overcast: stopped" in stopped.stdout
        assert overcast("status", *where).returncode == 3
        assert not (data_dir / "overcast.pid").exists() and not (data_dir / "run.json").exists()
        assert overcast("stop", *where).returncode == 0  # not running is no error

        again = overcast("start", *where, "--port", str(port))
        assert again.returncode == 0 and "first start" not in again.stdout
        assert wait_for(_connect(data_dir), building.id, "ACTIVE", "ERROR").status == "ACTIVE"
    finally:
        overcast("stop", *where)


def test_wait_for_a_cloud_started_otherwise(start_server: Callable[..., Server]) -> None:
    srv = start_server()
    waited = overcast("wait", "--data-dir", str(srv.data_dir), "--timeout", "30")
    assert waited.returncode == 0 and srv.url in waited.stdout
    srv.stop()
    gone = overcast("wait", "--data-dir", str(srv.data_dir), "--timeout", "0.5")
    assert gone.returncode == 1 and "not running" in gone.stderr


def test_ctrl_c_in_the_foreground_is_quiet(start_server: Callable[..., Server]) -> None:
    srv = start_server()
    assert srv.stop(signal.SIGINT) == 0
    log = srv.log.read_text()
    assert "Traceback" not in log and "overcast: stopped" in log


def test_make_up_passes_args_and_stops_quietly(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "cloud", free_port()
    # `-o setup`: the venv running these tests is already set up.
    make = subprocess.Popen(
        ["make", "-s", "-o", "setup", f"BIN={Path(sys.executable).parent}", "up",
         f"ARGS=--data-dir {data_dir} --port {port}"],
        cwd=REPO, env={**os.environ, **FAST_ENV}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert overcast("wait", "--data-dir", str(data_dir), "--timeout", "120").returncode == 0
        assert httpx.get(f"http://127.0.0.1:{port}/healthcheck").status_code == 200
    finally:
        os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        output, _ = make.communicate(timeout=60)
    assert f"Overcast is up at http://127.0.0.1:{port}" in output
    assert "overcast: stopped" in output
    assert "make: ***" not in output and "Traceback" not in output
