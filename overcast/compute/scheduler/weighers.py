"""Weighers: order the hosts that passed the filters, as Nova's weighers do.

Each weigher gives a raw number per host; raw numbers are normalised to 0..1 over the candidate
hosts, multiplied by the weigher's multiplier from the settings, and summed. Positive
multipliers spread instances (most free first); negative ones stack them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from overcast.compute.scheduler.filters import affinity
from overcast.compute.scheduler.host_state import HostState

RequestSpec = dict[str, Any]


@dataclass(frozen=True)
class Weigher:
    name: str
    setting: str  # the multiplier's field in ComputeSettings
    raw: Callable[[HostState, RequestSpec], float]


WEIGHERS = [
    Weigher("RAMWeigher", "ram_weight_multiplier", lambda h, _s: h.free_ram_mb),
    Weigher("CPUWeigher", "cpu_weight_multiplier", lambda h, _s: h.free_vcpus),
    Weigher("DiskWeigher", "disk_weight_multiplier", lambda h, _s: h.free_disk_gb),
    Weigher(
        "ServerGroupSoftAffinityWeigher",
        "soft_affinity_weight_multiplier",
        affinity.soft_affinity_weight,
    ),
    Weigher(
        "ServerGroupSoftAntiAffinityWeigher",
        "soft_anti_affinity_weight_multiplier",
        affinity.soft_anti_affinity_weight,
    ),
]


def _normalise(values: Sequence[float]) -> list[float]:
    low, high = min(values), max(values)
    if high == low:
        return [0.0 for _ in values]
    return [(v - low) / (high - low) for v in values]


def weigh(hosts: Sequence[HostState], spec: RequestSpec, settings: Any) -> list[HostState]:
    """`hosts` from best to worst; ties keep their order."""
    return [host for host, _weight in weighed(hosts, spec, settings)]


def weighed(
    hosts: Sequence[HostState], spec: RequestSpec, settings: Any
) -> list[tuple[HostState, float]]:
    """(host, weight) from best to worst; ties keep their order."""
    if len(hosts) < 2:
        return [(host, 0.0) for host in hosts]
    totals = [0.0] * len(hosts)
    for weigher in WEIGHERS:
        multiplier = float(getattr(settings, weigher.setting, 1.0))
        if not multiplier:
            continue
        for i, value in enumerate(_normalise([weigher.raw(h, spec) for h in hosts])):
            totals[i] += multiplier * value
    order = sorted(range(len(hosts)), key=lambda i: -totals[i])
    return [(hosts[i], totals[i]) for i in order]
