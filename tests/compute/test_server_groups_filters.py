"""Server group policies in the scheduler: the filters and soft weighers on host states."""

from __future__ import annotations

from typing import Any

from overcast.compute.scheduler.filters.affinity import (
    ServerGroupAffinityFilter,
    ServerGroupAntiAffinityFilter,
    soft_affinity_weight,
    soft_anti_affinity_weight,
)
from overcast.compute.scheduler.host_state import HostState


def host(name: str, *uuids: str) -> HostState:
    return HostState(
        host=name,
        node=name,
        uuid=name,
        vcpus=4,
        vcpus_used=0,
        memory_mb=4096,
        memory_mb_used=0,
        local_gb=40,
        local_gb_used=0,
        instance_uuids=set(uuids),
    )


def spec(policy: str, members: list[str], hosts: list[str], **rules: Any) -> dict[str, Any]:
    group = {"uuid": "g", "policy": policy, "members": members, "hosts": hosts, "rules": rules}
    return {"instance_uuids": ["new"], "instance_group": group}


def test_no_group_passes_everywhere() -> None:
    for f in (ServerGroupAffinityFilter(), ServerGroupAntiAffinityFilter()):
        assert f.host_passes(host("a", "x"), {"instance_group": None})


def test_affinity_sticks_to_the_group_hosts() -> None:
    f = ServerGroupAffinityFilter()
    assert f.host_passes(host("a"), spec("affinity", [], []))
    assert f.host_passes(host("a", "m1"), spec("affinity", ["m1"], ["a"]))
    assert not f.host_passes(host("b"), spec("affinity", ["m1"], ["a"]))


def test_anti_affinity_with_and_without_max_server_per_host() -> None:
    f = ServerGroupAntiAffinityFilter()
    assert not f.host_passes(host("a", "m1"), spec("anti-affinity", ["m1"], ["a"]))
    assert f.host_passes(host("b", "other"), spec("anti-affinity", ["m1"], ["a"]))
    two = spec("anti-affinity", ["m1"], ["a"], max_server_per_host=2)
    assert f.host_passes(host("a", "m1"), two)
    assert not f.host_passes(host("a", "m1", "m2"), spec("anti-affinity", ["m1", "m2"], ["a"]))
    # The soft policies never refuse a host.
    assert f.host_passes(host("a", "m1"), spec("soft-anti-affinity", ["m1"], ["a"]))


def test_multi_create_counts_hosts_chosen_earlier_in_the_request() -> None:
    f = ServerGroupAntiAffinityFilter()
    a = host("a")
    a.consume({"vcpus": 1, "memory_mb": 1, "disk_gb": 1}, "new1")
    assert not f.host_passes(a, spec("anti-affinity", ["new1", "new2"], ["a"]))


def test_soft_weighers_prefer_and_avoid_members() -> None:
    busy, idle = host("a", "m1", "m2"), host("b")
    aff = spec("soft-affinity", ["m1", "m2"], ["a"])
    assert soft_affinity_weight(busy, aff) > soft_affinity_weight(idle, aff)
    anti = spec("soft-anti-affinity", ["m1", "m2"], ["a"])
    assert soft_anti_affinity_weight(busy, anti) < soft_anti_affinity_weight(idle, anti)
    assert soft_affinity_weight(busy, anti) == 0
