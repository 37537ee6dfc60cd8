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


@dataclass(frozen=True)
class Scale:
    """One weigher's normalisation over a set of hosts: `(raw - low) / span`, 0 when they all
    had the same raw number."""

    raw: Callable[[HostState, RequestSpec], float]
    multiplier: float
    low: float
    span: float


def scales(hosts: Sequence[HostState], spec: RequestSpec, settings: Any) -> list[Scale]:
    """The enabled weighers' scales over `hosts`."""
    out = []
    for weigher in WEIGHERS:
        multiplier = float(getattr(settings, weigher.setting, 1.0))
        if not multiplier or not hosts:
            continue
        values = [weigher.raw(h, spec) for h in hosts]
        low = min(values)
        out.append(Scale(weigher.raw, multiplier, low, max(values) - low))
    return out


def weight(host: HostState, spec: RequestSpec, found: Sequence[Scale]) -> float:
    """The host's weight on those scales: the sum of each normalised number times its
    multiplier."""
    total = 0.0
    for scale in found:
        if scale.span:
            total += scale.multiplier * ((scale.raw(host, spec) - scale.low) / scale.span)
    return total


def weighed(
    hosts: Sequence[HostState], spec: RequestSpec, settings: Any
) -> list[tuple[HostState, float]]:
    """(host, weight) from best to worst; ties keep their order."""
    if len(hosts) < 2:
        return [(host, 0.0) for host in hosts]
    found = scales(hosts, spec, settings)
    totals = [weight(h, spec, found) for h in hosts]
    order = sorted(range(len(hosts)), key=lambda i: -totals[i])
    return [(hosts[i], totals[i]) for i in order]
