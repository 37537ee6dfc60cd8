"""The create flow across several back ends: types choose back ends by `volume_backend_name`,
a driver failure is retried on another back end, and a volume no back end can take ends in
`error` with a user message and its quota returned."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers.server import Server
from tests.volume.conftest import wait_volume

BACKENDS = {
    # `big` reports the whole disk, `small` only 200 GiB: the capacity weigher prefers `big`.
    "big": {"volume_backend_name": "shared"},
    "small": {"volume_backend_name": "shared", "volume_format": "raw", "total_capacity_gb": 200},
    "fast": {"volume_backend_name": "fast", "availability_zone": "az2"},
}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.helpers import databases

    with databases.selected() as db_env:
        srv = Server(
            tmp_path_factory.mktemp("flow"),
            env={**db_env, "OVERCAST_VOLUME__BACKENDS": json.dumps(BACKENDS)},
        )
        srv.start()
        yield srv
        srv.stop()


def _messages(cloud: Server, volume_id: str) -> list[dict[str, Any]]:
    found = cloud.cli_json("--os-volume-api-version", "3.3", "volume", "message", "list")
    return [m for m in found if m["Resource UUID"] == volume_id]


def test_types_choose_back_ends_and_zones(cloud: Server) -> None:
    admin = cloud.connect()
    pools = {p["Name"] for p in cloud.cli_json("volume", "backend", "pool", "list")}
    assert {n.split("#")[1] for n in pools} == {"big", "small", "fast"}
    services = cloud.cli_json("volume", "service", "list")
    assert {s["Binary"] for s in services} >= {"cinder-volume", "cinder-scheduler", "cinder-backup"}
    assert all(s["State"] == "up" for s in services)
    fast = admin.block_storage.create_type(name="fast", extra_specs={"volume_backend_name": "fast"})
    volume = admin.block_storage.create_volume(size=1, volume_type="fast", availability_zone="az2")
    volume = wait_volume(admin, volume.id, "available")
    assert volume.host.endswith("@fast#fast")
    # The fast back end is only in az2.
    wrong = admin.block_storage.create_volume(size=1, volume_type="fast", availability_zone="nova")
    assert wait_volume(admin, wrong.id, "error").status == "error"
    admin.block_storage.delete_volume(wrong.id)
    admin.block_storage.delete_volume(volume.id)
    del fast


def test_no_back_end_for_the_type(cloud: Server) -> None:
    admin = cloud.connect()
    admin.block_storage.create_type(name="nowhere", extra_specs={"volume_backend_name": "nowhere"})
    used = admin.block_storage.get_limits().absolute.total_gigabytes_used
    volume = admin.block_storage.create_volume(size=7, volume_type="nowhere")
    failed = wait_volume(admin, volume.id, "error")
    assert failed.host is None
    (message,) = _messages(cloud, volume.id)
    assert message["Event ID"] == "VOLUME_VOLUME_001_003"
    assert "backend" in message["User Message"]
    # The failed create gave its quota back.
    assert admin.block_storage.get_limits().absolute.total_gigabytes_used == used
    admin.block_storage.delete_volume(volume.id)


def _breaking(cloud: Server, backend: str) -> Callable[[], None]:
    """Replace a back end's directory by a file (its driver then fails); returns the undo."""
    path = cloud.data_dir / "volumes" / backend
    saved = path.with_name(f"{backend}.saved")
    path.rename(saved)
    path.write_text("not a directory")

    def undo() -> None:
        path.unlink()
        saved.rename(path)

    return undo


def test_driver_failure_is_rescheduled_then_fails_cleanly(cloud: Server) -> None:
    admin = cloud.connect()
    admin.block_storage.create_type(name="shared", extra_specs={"volume_backend_name": "shared"})
    undo = _breaking(cloud, "big")
    try:
        volume = admin.block_storage.create_volume(size=1, volume_type="shared")
        moved = wait_volume(admin, volume.id, "available", "error")
        assert moved.status == "available" and moved.host.endswith("@small#small")
        undo_small = _breaking(cloud, "small")
        try:
            used = admin.block_storage.get_limits().absolute.total_gigabytes_used
            doomed = admin.block_storage.create_volume(size=3, volume_type="shared")
            failed = wait_volume(admin, doomed.id, "error")
            assert failed.status == "error"
            # Both back ends failed it; with none left to try, the scheduler gives up (as
            # Cinder's does: "no valid back end").
            events = {m["Event ID"] for m in _messages(cloud, doomed.id)}
            assert events == {"VOLUME_VOLUME_001_003"}
            assert admin.block_storage.get_limits().absolute.total_gigabytes_used == used
        finally:
            undo_small()
    finally:
        undo()
    admin.block_storage.delete_volume(doomed.id)
    admin.block_storage.delete_volume(volume.id)
    deadline = time.monotonic() + 20
    while (
        admin.block_storage.find_volume(volume.id, ignore_missing=True)
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    shutil.rmtree(cloud.data_dir / "volumes" / "big.saved", ignore_errors=True)
