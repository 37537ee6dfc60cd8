"""The object store's daemons are the "object" role's unit: with `overcast serve --role
controller,object --workers 2` they run once, in the process of the non-API roles, not in each
API worker, and they do their work there (the replicator restores a lost replica)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.helpers import nodes
from tests.object_store.conftest import swift_conn

pytestmark = [pytest.mark.xdist_group("multinode-object-role"), pytest.mark.slow]


def test_daemons_run_once_per_node_and_work(tmp_path: Path) -> None:
    reason = nodes.unavailable()
    if reason:
        pytest.skip(reason)
    fast = {
        "OVERCAST_OBJECT_STORE__REPLICATOR_INTERVAL": "0.5",
        "OVERCAST_OBJECT_STORE__PART_POWER": "4",
    }
    with nodes.cloud(tmp_path, **fast) as cloud:
        node = cloud.node("ctl", "controller,object", workers=2).start(timeout=300)
        log = node.log.read_text()
        assert log.count("overcast is ready") == 3
        assert log.count("object store daemons started") == 1

        conn = swift_conn(node, "admin", node.password("admin"), "admin")
        conn.put_container("c")
        data = b"replicated once per node " * 40
        conn.put_object("c", "o", data)
        devices = node.data_dir / "object-store" / "devices"

        def copies() -> list[Path]:
            found = devices.glob("*/objects/*/*/*/*.data")
            return [p for p in found if p.read_bytes().startswith(data)]

        assert len(copies()) == 3
        copies()[0].unlink()
        deadline = time.monotonic() + 30
        while len(copies()) < 3:
            assert time.monotonic() < deadline, "the replicator did not restore the replica"
            time.sleep(0.2)
        assert conn.get_object("c", "o")[1] == data
