"""Killing the process (SIGKILL) in the middle of creates, snapshots, backups and deletes leaves
nothing in a `-ing` state after the restart, and quota usage equals what exists."""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path
from typing import Any

from tests.helpers.server import Server


def _busy(conn: Any) -> list[str]:
    rows = [
        *conn.block_storage.volumes(),
        *conn.block_storage.snapshots(),
        *conn.block_storage.backups(),
    ]
    return [
        f"{r.id}:{r.status}"
        for r in rows
        if r.status.endswith("ing") and r.status != "awaiting-transfer"
    ]


def test_kill_during_work_then_restart(start_server: Any, tmp_path: Path) -> None:
    quota = {"OVERCAST_VOLUME__QUOTA_VOLUMES": "100", "OVERCAST_VOLUME__QUOTA_SNAPSHOTS": "100"}
    srv: Server = start_server(env=quota, data_dir=tmp_path / "cloud")
    conn = srv.connect()
    base = [conn.block_storage.create_volume(size=1, name=f"base{i}") for i in range(3)]
    for volume in base:
        conn.block_storage.wait_for_status(volume, "available", interval=0.05, wait=60)
    doomed = conn.block_storage.create_volume(size=1, name="doomed")
    conn.block_storage.wait_for_status(doomed, "available", interval=0.05, wait=60)

    def work(i: int) -> None:
        if i < 24:
            conn.block_storage.create_volume(size=1, name=f"new{i}")
        elif i < 27:
            conn.block_storage.create_snapshot(volume_id=base[i - 24].id, force=True)
        elif i < 29:
            conn.block_storage.create_backup(volume_id=base[i - 27].id, force=True)
        else:
            conn.block_storage.delete_volume(doomed.id)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(work, i) for i in range(30)]
        deadline = time.monotonic() + 30
        seen: list[str] = []
        while time.monotonic() < deadline and not seen:
            seen = _busy(conn)
        srv.kill()
        concurrent.futures.wait(futures)

    assert seen, "the kill came when nothing was in progress"
    srv = start_server(env=quota, data_dir=tmp_path / "cloud")
    conn = srv.connect()
    # Creates the scheduler had not placed are placed again at start and finish in moments;
    # everything else was ended or finished by the reconciliation. Nothing may stay busy.
    deadline = time.monotonic() + 30
    while _busy(conn) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _busy(conn) == []
    volumes = list(conn.block_storage.volumes())
    snapshots = list(conn.block_storage.snapshots())
    counted = [v for v in volumes if v.status != "error"]
    limits = conn.block_storage.get_limits().absolute
    assert limits.total_volumes_used == len(counted)
    assert limits.total_gigabytes_used == sum(v.size for v in counted) + sum(
        s.size for s in snapshots if s.status != "error"
    )
    # The cloud still works.
    again = conn.block_storage.create_volume(size=1, name="after")
    conn.block_storage.wait_for_status(again, "available", interval=0.05, wait=60)
