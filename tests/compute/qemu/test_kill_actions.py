"""Overcast killed -9 while real guests are in the middle of actions, then started again: each
action is finished (or, for a rescue, a snapshot or a resize, undone), states match the guests, the
consoles still answer, a guest that was not restarted by its action kept its QEMU, and no asyncio
task of the restarted process is collected while pending.

Three guests go through rounds of three actions at once; the kill lands as soon as the agent
has begun the last of them (its instance action event is recorded): the slower ones are under
way, a quick one (a pause) may be over."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.compute.qemu.conftest import BANNER, Cloud, qemu_pids

pytestmark = pytest.mark.xdist_group("qemu-guests")


@pytest.fixture(scope="module")
def trio(qemu_cloud: Cloud) -> list[Any]:
    return qemu_cloud.boot_all(("k1", {}), ("k2", {}), ("k3", {}))


def _files(cloud: Cloud, server: Any) -> Path:
    (host,) = (cloud.srv.data_dir / "compute" / "qemu").iterdir()
    return host / "instances" / server.id


def _pid(cloud: Cloud, server: Any) -> int | None:
    found = [p for p in qemu_pids(cloud.srv.data_dir)
             if server.id.encode() in Path(f"/proc/{p}/cmdline").read_bytes()]  # fmt: skip
    assert len(found) <= 1
    return found[0] if found else None


def _events(cloud: Cloud, server: Any) -> int:
    """How many actions the agent has begun on the server (their events, open or ended)."""
    with sqlite3.connect(cloud.srv.data_dir / "overcast.db") as db:
        (count,) = db.execute(
            "SELECT count(*) FROM compute_instance_action_event e JOIN compute_instance_action a"
            " ON e.action_id = a.id WHERE a.instance_uuid = ? AND e.event LIKE 'compute_%'",
            (server.id,),
        ).fetchone()
    return int(count)


def _kill_during(cloud: Cloud, actions: list[tuple[Any, Callable[[], Any]]]) -> None:
    """Start the actions, kill -9 as soon as the agent has begun the last of them, start
    again. (A quick one, a pause, may be over by then; the others are under way.)"""
    before = {server.id: _events(cloud, server) for server, _ in actions}
    for _, act in actions:
        act()
    deadline = time.monotonic() + 30
    waiting = [server for server, _ in actions]
    while waiting and time.monotonic() < deadline:
        waiting = [s for s in waiting if _events(cloud, s) <= before[s.id]]
        time.sleep(0.02)
    cloud.srv.kill()
    cloud.srv.start(timeout=300)
    cloud.conn = cloud.srv.connect()


def _settled(cloud: Cloud, server: Any, status: str, power: int) -> Any:
    found = cloud.wait_status(server, status, timeout=120)
    deadline = time.monotonic() + 60
    while (found.task_state or found.power_state != power) and time.monotonic() < deadline:
        time.sleep(0.5)
        found = cloud.conn.compute.get_server(server)
    assert found.task_state is None and found.power_state == power, found
    return found


def test_kill_9_during_actions_finishes_or_undoes_each(qemu_cloud: Cloud, trio: list[Any]) -> None:
    cloud = qemu_cloud
    k1, k2, k3 = trio
    compute = cloud.conn.compute

    # Round 1: soft reboot, stop, suspend.
    booted = cloud.console(k1).count(BANNER)
    _kill_during(cloud, [(k1, lambda: compute.reboot_server(k1, "SOFT")),
                         (k2, lambda: compute.stop_server(k2)),
                         (k3, lambda: compute.suspend_server(k3))])  # fmt: skip
    compute = cloud.conn.compute
    _settled(cloud, k1, "ACTIVE", 1)
    cloud.wait_console(k1, BANNER, count=booted + 1)
    _settled(cloud, k2, "SHUTOFF", 4)
    assert _pid(cloud, k2) is None
    _settled(cloud, k3, "SUSPENDED", 7)
    assert _pid(cloud, k3) is None and (_files(cloud, k3) / "suspended.state").stat().st_size
    suspended_banners = cloud.console(k3).count(BANNER)

    # Round 2: rescue (undone), start, resume.
    booted = cloud.console(k1).count(BANNER)
    _kill_during(cloud, [(k1, lambda: compute.rescue_server(k1)),
                         (k2, lambda: compute.start_server(k2)),
                         (k3, lambda: compute.resume_server(k3))])  # fmt: skip
    compute = cloud.conn.compute
    _settled(cloud, k1, "ACTIVE", 1)
    assert not (_files(cloud, k1) / "disk.rescue").exists()
    _settled(cloud, k2, "ACTIVE", 1)
    cloud.wait_console(k2, BANNER, count=2)
    _settled(cloud, k3, "ACTIVE", 1)
    assert not (_files(cloud, k3) / "suspended.state").exists()
    time.sleep(2)
    assert cloud.console(k3).count(BANNER) == suspended_banners  # resumed, not rebooted
    cloud.wait_console(k1, BANNER, count=booted + 1)  # the guest's own disk booted again

    # Round 3: snapshot (its image finished or deleted), pause, hard reboot.
    paused_pid = _pid(cloud, k2)
    booted = cloud.console(k3).count(BANNER)
    _kill_during(cloud, [(k1, lambda: compute.create_server_image(k1, "k1-snap")),
                         (k2, lambda: compute.pause_server(k2)),
                         (k3, lambda: compute.reboot_server(k3, "HARD"))])  # fmt: skip
    compute = cloud.conn.compute
    _settled(cloud, k1, "ACTIVE", 1)
    deadline = time.monotonic() + 90  # an unfinished image goes once the image API answers
    while time.monotonic() < deadline:
        images = list(cloud.conn.image.images(name="k1-snap"))
        if all(i.status == "active" for i in images):
            break
        time.sleep(1)
    assert all(i.status == "active" for i in images), [(i.id, i.status) for i in images]
    _settled(cloud, k2, "PAUSED", 3)
    assert _pid(cloud, k2) == paused_pid  # the guest was not restarted
    _settled(cloud, k3, "ACTIVE", 1)
    cloud.wait_console(k3, BANNER, count=booted + 1)
    for image in images:
        cloud.conn.image.delete_image(image)

    # Round 4: a resize (undone: the old flavor, its files back, running), unpause.
    _kill_during(cloud, [(k1, lambda: compute.resize_server(k1, cloud.bigger.id)),
                         (k2, lambda: compute.unpause_server(k2))])  # fmt: skip
    compute = cloud.conn.compute
    assert _settled(cloud, k1, "ACTIVE", 1).flavor["original_name"] == "g1.tiny"
    assert not list(_files(cloud, k1).parent.glob(f"{k1.id}_*"))
    pid = _pid(cloud, k1)
    assert pid is not None and b"\0-m\0" + b"256\0" in Path(f"/proc/{pid}/cmdline").read_bytes()
    _settled(cloud, k2, "ACTIVE", 1)

    # After it all, the consoles answer and actions go on as usual.
    compute.pause_server(k2)
    _settled(cloud, k2, "PAUSED", 3)
    for server in trio:
        assert BANNER in cloud.srv.cli("console", "log", "show", server.id).stdout
    # The restarts left no asyncio task collected while pending (a guest's QMP event task,
    # say, whose monitor an event's own handler closed).
    assert "Task was destroyed but it is pending" not in cloud.srv.log.read_text()


def _disk_nodes(cloud: Cloud, server: Any) -> set[str]:
    """The disks the driver has given the guest (its launch record, kept with each hot-plug)."""
    launch = json.loads((_files(cloud, server) / "launch.json").read_text())
    return {str(d.get("node")) for d in launch["disks"]}


def _consistent(cloud: Cloud, server: Any, volume_id: str) -> bool:
    """Once settled, the volume is attached everywhere or nowhere: in the volume service, in
    the server's record and in the guest's disks. True if attached."""
    storage = cloud.conn.block_storage
    deadline = time.monotonic() + 90
    while True:  # settled once the volume service answers after the restart
        status = storage.get_volume(volume_id).status
        listed = {a.volume_id for a in cloud.conn.compute.volume_attachments(server)}
        held = [a.instance for a in storage.attachments(volume_id=volume_id)]
        in_use = status == "in-use"
        if status in ("in-use", "available") and (volume_id in listed, held) == (
            in_use,
            [server.id] if in_use else [],
        ):
            break
        assert time.monotonic() < deadline, (status, listed, held)
        time.sleep(0.5)
    assert (f"vol-{volume_id[:8]}" in _disk_nodes(cloud, server)) == in_use
    return in_use


def test_kill_9_during_volume_attach_and_detach(qemu_cloud: Cloud, trio: list[Any]) -> None:
    """kill -9 while one guest has a volume hot-plugged and another has one unplugged: after the
    restart each attach and detach is finished or undone, the same in the volume service, the
    server's record and the guest, and both volumes then attach and detach as usual."""
    cloud = qemu_cloud
    k1, _, k3 = trio
    storage = cloud.conn.block_storage
    joining, leaving = (storage.create_volume(size=1, name=n) for n in ("k-join", "k-leave"))
    for volume in (joining, leaving):
        storage.wait_for_status(volume, "available", wait=60)
    cloud.conn.compute.create_volume_attachment(k3, volume_id=leaving.id)
    storage.wait_for_status(leaving, "in-use", wait=60)

    def attach() -> None:
        with contextlib.suppress(Exception):  # the cloud dies under it
            cloud.conn.compute.create_volume_attachment(k1, volume_id=joining.id)

    def detach() -> None:
        with contextlib.suppress(Exception):
            cloud.conn.compute.delete_volume_attachment(leaving.id, k3)

    calls = [threading.Thread(target=attach), threading.Thread(target=detach)]
    for call in calls:
        call.start()
    deadline = time.monotonic() + 30  # until the attach is under way in the volume service
    while storage.get_volume(joining.id).status == "available" and time.monotonic() < deadline:
        time.sleep(0.02)
    cloud.srv.kill()
    for call in calls:
        call.join()
    cloud.srv.start(timeout=300)
    cloud.conn = cloud.srv.connect()
    compute, storage = cloud.conn.compute, cloud.conn.block_storage

    for server, volume in ((k1, joining), (k3, leaving)):
        if _consistent(cloud, server, volume.id):
            compute.delete_volume_attachment(volume.id, server)
            storage.wait_for_status(storage.get_volume(volume.id), "available", wait=120)
        compute.create_volume_attachment(server, volume_id=volume.id)
        storage.wait_for_status(storage.get_volume(volume.id), "in-use", wait=120)
        assert _consistent(cloud, server, volume.id)
        compute.delete_volume_attachment(volume.id, server)
        storage.wait_for_status(storage.get_volume(volume.id), "available", wait=120)
        assert not _consistent(cloud, server, volume.id)
        storage.delete_volume(volume.id)
