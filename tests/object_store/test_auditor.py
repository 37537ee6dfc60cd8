"""The auditor's byte rate holds for objects bigger than one second's budget: a file is read
whole, and the steps after it pay the excess before reading more."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from overcast.common.config import ObjectStoreSettings
from overcast.object_store.daemons.auditor import Auditor
from overcast.object_store.drivers.local import LocalServer, init_device
from overcast.object_store.proxy.placement import Placement
from overcast.object_store.ring.builder import RingBuilder
from overcast.object_store.ring.ring import Ring

MB = 1_000_000


@pytest.mark.asyncio(loop_scope="function")
async def test_big_objects_are_audited_at_the_byte_rate(tmp_path: Path) -> None:
    builder = RingBuilder(part_power=2, replicas=1, min_part_hours=0)
    builder.add_device(region=1, zone=1, weight=1.0, device="d1", host="local")
    builder.rebalance(seed=1)
    builder.write_ring(tmp_path / "ring.json.gz")
    init_device(tmp_path / "devices" / "d1")
    local = LocalServer(tmp_path / "devices", threads=2)
    placement = Placement(Ring(tmp_path / "ring.json.gz", b"", b"salt"), local, lambda _u: local)
    for n in range(2):
        data = os.urandom(int(2.5 * MB))
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        await local.put("d1", 0, f"{n:032x}", f"{1000 + n}.00000", data, {"ETag": etag})
    settings = ObjectStoreSettings(
        auditor_bytes_per_second=MB, auditor_files_per_second=100, auditor_interval=0
    )
    state: Any = SimpleNamespace(settings=settings, placement=placement)
    auditor = Auditor(state)
    try:
        # 2.5 MB read, 1.5 MB over; 0.5 MB over after the next step's budget; then the
        # second file, 2 MB over: two steps pay it
        assert [await auditor.step() for _ in range(5)] == [1, 0, 1, 0, 0]
        assert auditor.audited == 2 and auditor.quarantined == 0
    finally:
        await local.close()
