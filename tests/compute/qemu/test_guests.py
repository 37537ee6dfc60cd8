"""Real guests on the qemu driver, through openstacksdk and the openstack CLI: the console
shows the banner and the user_data script's output; reboot, stop/start, pause, suspend/resume,
snapshot and a boot from it, resize and revert, rescue, diagnostics, the metadata API, a bad
image, delete leaving nothing, Overcast killed -9 while guests run, and QEMU as its own
unprivileged user that reaches no guest's files.

Three guests boot at once and are shared: `shared` is only read, `life` goes through the
power actions, `mover` through snapshot, resize and rescue, and is deleted at the end."""

from __future__ import annotations

import base64
import os
import pwd
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from overcast.common import instance_identity
from tests.compute.qemu.conftest import BANNER, Cloud, qemu_pids

pytestmark = pytest.mark.xdist_group("qemu-guests")

USER_DATA = "#!/bin/sh\necho user-data-says-$((6 * 7))\n"


@pytest.fixture(scope="module")
def guests(qemu_cloud: Cloud) -> dict[str, Any]:
    user_data = base64.b64encode(USER_DATA.encode()).decode()
    shared, life, mover = qemu_cloud.boot_all(
        ("shared", {"user_data": user_data, "config_drive": True, "metadata": {"role": "r"}}),
        ("life", {}),
        ("mover", {}),
    )
    return {"shared": shared, "life": life, "mover": mover}


def _instance_dir(cloud: Cloud, server: Any) -> Path:
    (host,) = (cloud.srv.data_dir / "compute" / "qemu").iterdir()  # one compute host
    return host / "instances" / server.id


def _running(files: Path, uuid: str) -> bool:
    return any(uuid.encode() in Path(f"/proc/{p}/cmdline").read_bytes()
               for p in qemu_pids(files.parent))  # fmt: skip


def test_banner_and_user_data_on_the_console(qemu_cloud: Cloud, guests: dict[str, Any]) -> None:
    shared = guests["shared"]
    output = qemu_cloud.wait_console(shared, "user-data-says-42")
    assert f"{BANNER} hostname=shared" in output and f"instance={shared.id}" in output
    tail = qemu_cloud.srv.cli("console", "log", "show", "--lines", "3", shared.id).stdout
    # The guest may print more meanwhile: the tail is within the whole log read after it.
    after = qemu_cloud.console(shared)
    assert 0 < len(tail.splitlines()) <= 3 and tail.strip() in after.replace("\r", "")


def test_diagnostics_read_the_running_guest(qemu_cloud: Cloud, guests: dict[str, Any]) -> None:
    shown = qemu_cloud.srv.cli_json(
        "--os-compute-api-version", "2.48", "server", "show", "--diagnostics", guests["shared"].id
    )
    assert shown["driver"] == "qemu" and shown["state"] == "running"
    assert shown["num_cpus"] == 1 and shown["memory_details"]["maximum"] == 256
    assert shown["cpu_details"][0]["time"] > 0 and shown["disk_details"]


@pytest.mark.skipif(os.geteuid() != 0, reason="QEMU drops to its own user only from root")
def test_qemu_runs_unprivileged_and_reaches_no_other_guest(
    qemu_cloud: Cloud, guests: dict[str, Any]
) -> None:
    user = pwd.getpwnam("overcast-qemu")  # the default compute.qemu.user, made by the driver
    shared, life = guests["shared"], guests["life"]
    (pid,) = [p for p in qemu_pids(qemu_cloud.srv.data_dir)
              if shared.id.encode() in Path(f"/proc/{p}/cmdline").read_bytes()]  # fmt: skip
    status = Path(f"/proc/{pid}/status").read_text()
    uids = next(ln for ln in status.splitlines() if ln.startswith("Uid:")).split()[1:]
    assert uids == [str(user.pw_uid)] * 4  # real, effective, saved and filesystem
    own, other = _instance_dir(qemu_cloud, shared), _instance_dir(qemu_cloud, life)
    fds = [os.readlink(f) for f in Path(f"/proc/{pid}/fd").iterdir()]
    assert str(own / "disk") in fds  # its own disk: opened as root before the drop
    as_qemu = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
    for path in (other / "disk", own / "disk"):
        denied = subprocess.run([*as_qemu, "head", "-c1", str(path)], capture_output=True)
        assert denied.returncode != 0 and b"Permission denied" in denied.stderr
    assert path.stat().st_uid == 0 and other.stat().st_mode & 0o077 == 0


def test_metadata_api_answers_signed_requests(qemu_cloud: Cloud, guests: dict[str, Any]) -> None:
    uuid = guests["shared"].id
    secret = instance_identity.secret_file(qemu_cloud.srv.data_dir)
    base = f"{qemu_cloud.srv.url}/compute/metadata"
    signed = {
        "X-Instance-ID": uuid,
        "X-Instance-ID-Signature": instance_identity.sign(secret, uuid),
    }
    meta = httpx.get(f"{base}/openstack/latest/meta_data.json", headers=signed).json()
    assert meta["uuid"] == uuid and meta["hostname"] == "shared" and meta["meta"] == {"role": "r"}
    assert httpx.get(f"{base}/openstack/latest/user_data", headers=signed).text == USER_DATA
    assert httpx.get(f"{base}/latest/meta-data/hostname", headers=signed).text == "shared"
    assert "placement/" in httpx.get(f"{base}/latest/meta-data/", headers=signed).text
    forged = {**signed, "X-Instance-ID-Signature": "0" * 64}
    answer = httpx.get(f"{base}/openstack/latest/meta_data.json", headers=forged)
    assert answer.status_code == 403 and "forbidden" in answer.json()
    answer = httpx.get(f"{base}/openstack/latest/meta_data.json")
    assert answer.status_code == 400 and "badRequest" in answer.json()
    other = {
        "X-Instance-ID": "nope",
        "X-Instance-ID-Signature": instance_identity.sign(secret, "nope"),
    }
    assert httpx.get(f"{base}/openstack/latest/meta_data.json", headers=other).status_code == 404


def test_power_actions_on_a_real_guest(qemu_cloud: Cloud, guests: dict[str, Any]) -> None:
    cloud, conn, life = qemu_cloud, qemu_cloud.conn, guests["life"]
    files = _instance_dir(cloud, life)
    conn.compute.reboot_server(life, "SOFT")
    cloud.wait_console(life, BANNER, count=2)
    cloud.wait_status(life, "ACTIVE")
    conn.compute.reboot_server(life, "HARD")
    cloud.wait_console(life, BANNER, count=3)
    cloud.wait_status(life, "ACTIVE")
    conn.compute.stop_server(life)
    assert cloud.wait_status(life, "SHUTOFF").power_state == 4
    assert not _running(files, life.id)
    conn.compute.start_server(life)
    cloud.wait_status(life, "ACTIVE")
    cloud.wait_console(life, BANNER, count=4)
    conn.compute.pause_server(life)
    assert cloud.wait_status(life, "PAUSED").power_state == 3
    conn.compute.unpause_server(life)
    cloud.wait_status(life, "ACTIVE")
    conn.compute.suspend_server(life)
    assert cloud.wait_status(life, "SUSPENDED").power_state == 7
    assert (files / "suspended.state").stat().st_size > 0
    conn.compute.resume_server(life)
    assert cloud.wait_status(life, "ACTIVE").power_state == 1
    assert not (files / "suspended.state").exists()
    assert cloud.console(life).count(BANNER) == 4  # resumed where it was, not rebooted


def test_snapshot_boots_and_resize_reverts(qemu_cloud: Cloud, guests: dict[str, Any]) -> None:
    cloud, conn, mover = qemu_cloud, qemu_cloud.conn, guests["mover"]
    image = conn.compute.create_server_image(mover, "mover-snap", wait=True, timeout=600)
    image = conn.image.get_image(image)
    assert image.status == "active" and image.disk_format == "qcow2" and image.size > 0
    child = cloud.boot("from-snap", image_id=image.id)
    cloud.wait_status(child, "ACTIVE")
    cloud.wait_console(child, f"{BANNER} hostname=from-snap")
    conn.compute.delete_server(child)

    conn.compute.resize_server(mover, cloud.bigger.id)
    resized = cloud.wait_status(mover, "VERIFY_RESIZE")
    assert resized.flavor["original_name"] == "g1.small"
    cloud.wait_console(mover, BANNER, count=2)
    conn.compute.revert_server_resize(mover)
    reverted = cloud.wait_status(mover, "ACTIVE")
    assert reverted.flavor["original_name"] == "g1.tiny"
    assert not (_instance_dir(cloud, mover).parent / f"{mover.id}_resize").exists()
    conn.image.delete_image(image)


def test_rescue_boots_the_rescue_image(qemu_cloud: Cloud, guests: dict[str, Any]) -> None:
    cloud, conn, mover = qemu_cloud, qemu_cloud.conn, guests["mover"]
    before = cloud.console(mover).count(BANNER)
    conn.compute.rescue_server(mover)
    cloud.wait_status(mover, "RESCUE")
    cloud.wait_console(mover, BANNER, count=before + 1)
    conn.compute.unrescue_server(mover)
    cloud.wait_status(mover, "ACTIVE")
    cloud.wait_console(mover, BANNER, count=before + 2)
    assert not (_instance_dir(cloud, mover) / "disk.rescue").exists()


def test_delete_leaves_nothing_behind(qemu_cloud: Cloud, guests: dict[str, Any]) -> None:
    cloud, mover = qemu_cloud, guests["mover"]
    files = _instance_dir(cloud, mover)
    cloud.conn.compute.delete_server(mover)
    cloud.conn.compute.wait_for_delete(mover, wait=120)
    assert not files.exists() and not files.with_name(f"{mover.id}_resize").exists()
    assert not _running(files, mover.id)


def test_a_bad_image_fails_the_build_cleanly(qemu_cloud: Cloud) -> None:
    conn = qemu_cloud.conn
    with tempfile.NamedTemporaryFile(suffix=".raw") as blank:
        blank.write(b"\0" * (1 << 20))
        blank.flush()
        image = conn.image.create_image(
            name="not-bootable", filename=blank.name, disk_format="raw", container_format="bare"
        )
    server = qemu_cloud.boot("doomed", image_id=image.id)
    failed = qemu_cloud.wait_status(server, "ERROR")
    assert "not bootable" in failed.fault["details"]  # the message is the retry summary
    assert not [d for d in os.listdir(_instance_dir(qemu_cloud, server).parent)
                if d.startswith(server.id)]  # fmt: skip
    conn.compute.delete_server(server)
    conn.image.delete_image(image)


def test_kill_9_keeps_guests_running_and_found_again(
    qemu_cloud: Cloud, guests: dict[str, Any]
) -> None:
    cloud = qemu_cloud
    shared, life = guests["shared"], guests["life"]
    before = sorted(qemu_pids(cloud.srv.data_dir))
    assert len(before) >= 2
    cloud.srv.kill()
    time.sleep(1)
    assert sorted(qemu_pids(cloud.srv.data_dir)) == before  # the guests did not notice
    cloud.srv.start()
    cloud.conn = cloud.srv.connect()
    assert cloud.wait_status(shared, "ACTIVE").power_state == 1
    assert cloud.wait_status(life, "ACTIVE").power_state == 1
    assert BANNER in cloud.console(shared)
    cloud.conn.compute.stop_server(life)  # the monitor was found again: actions still work
    cloud.wait_status(life, "SHUTOFF")
    assert sorted(qemu_pids(cloud.srv.data_dir)) != before
