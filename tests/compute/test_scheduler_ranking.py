"""The scheduler's ranking of plain requests spreads a burst as the full path does."""

from __future__ import annotations

from types import SimpleNamespace

from overcast.compute.scheduler.host_state import HostState
from overcast.compute.scheduler.ranking import Ranking

SPEC = {"flavor": {"vcpus": 1, "memory_mb": 512, "root_gb": 1}, "num_instances": 1}
NEED = {"vcpus": 1, "memory_mb": 512, "disk_gb": 1}


def host(name: str) -> HostState:
    return HostState(
        host=name, node=name, uuid=name, vcpus=8, vcpus_used=0, memory_mb=8192,
        memory_mb_used=0, local_gb=80, local_gb_used=0, availability_zone="nova",
        aggregates=[],
    )  # fmt: skip


def test_equal_hosts_take_turns() -> None:
    """All hosts alike when the ranking is made (every weigher's span 0): each claim still
    moves its host down, so four placements land on both hosts, not four times on the first."""
    settings = SimpleNamespace(ram_weight_multiplier=1.0)
    ranked = Ranking([host("a"), host("b")], SPEC, settings, [])
    placed = []
    for i in range(4):
        picked = ranked.take()
        assert picked is not None
        picked.consume(NEED, f"i{i}")
        ranked.put_back(picked)
        placed.append(picked.host)
    assert placed.count("a") == 2 and placed.count("b") == 2, placed
