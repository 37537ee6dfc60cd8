"""The scheduler's weighers, as Cinder's: more free (virtual, for thin pools) capacity is
better, less allocated capacity is better. Each weight is normalised over the candidates to
0..1 and multiplied by its setting before they are summed."""

from __future__ import annotations

from collections.abc import Callable

from overcast.common.config import VolumeSettings
from overcast.volume.scheduler.filters import Request
from overcast.volume.scheduler.pools import Pool


def free_capacity(pool: Pool, req: Request) -> float:
    caps = pool.capabilities
    total = float(caps.get("total_capacity_gb") or 0)
    free = float(caps.get("free_capacity_gb") or 0)
    reserved = total * float(caps.get("reserved_percentage") or 0) / 100
    if req.thin and caps.get("thin_provisioning_support"):
        ratio = float(caps.get("max_over_subscription_ratio") or 1)
        return total * ratio - pool.provisioned_gb - reserved
    return free - reserved


def allocated_capacity(pool: Pool, _req: Request) -> float:
    return float(pool.allocated_capacity_gb)


def _normalised(values: list[float]) -> list[float]:
    low, high = min(values), max(values)
    if high == low:
        return [0.0 for _ in values]
    return [(v - low) / (high - low) for v in values]


def best(pools: list[Pool], req: Request, settings: VolumeSettings) -> Pool:
    """The pool with the highest weight (pre: `pools` is not empty)."""
    weighers: list[tuple[Callable[[Pool, Request], float], float]] = [
        (free_capacity, settings.capacity_weight_multiplier),
        (allocated_capacity, settings.allocated_capacity_weight_multiplier),
    ]
    totals = [0.0] * len(pools)
    for weigher, multiplier in weighers:
        for i, weight in enumerate(_normalised([weigher(p, req) for p in pools])):
            totals[i] += weight * multiplier
    return pools[max(range(len(pools)), key=lambda i: (totals[i], -i))]
