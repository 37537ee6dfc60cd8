"""The ring builder and the online ring, without a server: balance, zone spread, minimal
movement on change, min_part_hours, and reloading when the file changes."""

from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path

import pytest

from overcast.common import errors
from overcast.common.config import Settings
from overcast.object_store import diskfile
from overcast.object_store.ring import commands
from overcast.object_store.ring.builder import RingBuilder
from overcast.object_store.ring.ring import Ring


def three_zones(part_power: int = 8, min_part_hours: int = 0) -> RingBuilder:
    builder = RingBuilder(part_power, 3, min_part_hours)
    for zone in (1, 2, 3):
        builder.add_device(region=1, zone=zone, weight=100, device=f"d{zone}")
    builder.rebalance(seed=1, now_hours=0)
    return builder


def zones_of(builder: RingBuilder, part: int) -> set[int]:
    return {builder.device(row[part]).zone for row in builder.replica2part2dev}


def test_replicas_spread_over_zones_and_balanced() -> None:
    builder = three_zones()
    assert all(len(zones_of(builder, p)) == 3 for p in range(builder.parts))
    assert builder.balance() == 0


def test_adding_a_device_moves_only_its_share() -> None:
    builder = three_zones(part_power=10)
    before = [list(row) for row in builder.replica2part2dev]
    builder.add_device(region=1, zone=4, weight=100, device="d4")
    moved = builder.rebalance(seed=2, now_hours=10)
    changed = sum(
        1
        for r, row in enumerate(builder.replica2part2dev)
        for p, d in enumerate(row)
        if before[r][p] != d
    )
    share = builder.parts * 3 // 4  # what the new device should end up with
    assert changed == moved
    assert share <= moved <= share * 1.1
    counts = Counter(d for row in builder.replica2part2dev for d in row)
    assert abs(counts[3] - share) <= 1
    # four zones, three replicas: still never two replicas of a partition in one zone
    assert all(len(zones_of(builder, p)) == 3 for p in range(builder.parts))


def test_min_part_hours_holds_partitions_back() -> None:
    builder = three_zones(part_power=8, min_part_hours=24)
    builder.add_device(region=1, zone=4, weight=100, device="d4")
    assert builder.rebalance(seed=3, now_hours=1) == 0  # everything moved at hour 0
    assert builder.rebalance(seed=3, now_hours=30) > 0


def test_removed_device_partitions_move_at_once() -> None:
    builder = three_zones(part_power=8, min_part_hours=24)
    builder.add_device(region=1, zone=4, weight=100, device="d4")
    builder.rebalance(seed=4, now_hours=100)
    builder.remove_device(0)
    builder.rebalance(seed=4, now_hours=100)  # within min_part_hours, but the device is gone
    assert all(d != 0 for row in builder.replica2part2dev for d in row)
    assert all(len(zones_of(builder, p)) == 3 for p in range(builder.parts))


def test_bad_builders_are_refused() -> None:
    with pytest.raises(errors.BadRequest):
        RingBuilder(0, 3, 1)
    builder = RingBuilder(4, 3, 0)
    builder.add_device(region=1, zone=1, weight=1, device="d1")
    with pytest.raises(errors.BadRequest):
        builder.rebalance()
    with pytest.raises(errors.Conflict):
        builder.add_device(region=1, zone=2, weight=1, device="d1")


def test_ring_lookup_and_reload(tmp_path: Path) -> None:
    builder = three_zones(part_power=6)
    path = tmp_path / "object.ring.json.gz"
    builder.write_ring(path)
    ring = Ring(path, b"", b"salt")
    name_hash = ring.hash_of("AUTH_a", "c", "o")
    part = ring.partition(name_hash)
    assert 0 <= part < 64
    assert {n.zone for n in ring.primaries(part)} == {1, 2, 3}
    assert list(ring.handoffs(part)) == []
    builder.add_device(region=1, zone=4, weight=100, device="d4")
    builder.rebalance(seed=5, now_hours=10)
    builder.write_ring(path)
    os.utime(path, (1, 1))  # a different mtime, as a new file has
    ring._checked = 0
    assert len(ring.devices()) == 4
    assert len(list(ring.handoffs(part))) == 1


def test_init_device_on_an_object_node(tmp_path: Path) -> None:
    """`overcast ring init-device` puts a directory in service without making a ring (an object
    node's ring is copied to it); names that are not plain directory names are refused."""
    settings = Settings(data_dir=tmp_path)
    args = argparse.Namespace(ring="init-device", device="d7")
    assert "in service" in commands.run(settings, args)
    assert commands.run(settings, args)  # again: nothing changes
    device = tmp_path / "object-store" / "devices" / "d7"
    assert (device / diskfile.MARKER).exists() and (device / "objects").is_dir()
    assert not (tmp_path / "object-store" / "object.builder").exists()
    for bad in ("../escape", ".hidden", "a/b", ""):
        with pytest.raises(errors.BadRequest):
            commands.run(settings, argparse.Namespace(ring="init-device", device=bad))
    assert not (tmp_path / "object-store" / "escape").exists()
