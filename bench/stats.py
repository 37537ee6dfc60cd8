"""Percentiles and latency summaries shared by the bench scripts (run as scripts: this file
sits beside them and is imported as `stats`)."""

from __future__ import annotations

import os
import statistics


def pct(values: list[float], pct: float, digits: int = 2) -> float | None:
    """The `pct`-th percentile (nearest rank) of `values`, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))], digits)


def summary(values: list[float], unit: str = "ms", digits: int = 2) -> dict[str, float | None]:
    """n, p50, p99 and mean of latencies measured in `unit` (keys such as `p50_ms`)."""
    return {
        "n": len(values),
        f"p50_{unit}": pct(values, 50, digits),
        f"p99_{unit}": pct(values, 99, digits),
        f"mean_{unit}": round(statistics.fmean(values), digits) if values else None,
    }


def cpu_seconds(*pids: int | None) -> float:
    """User + system CPU seconds that local processes `pids` (and their threads) have used so
    far, from /proc (Linux); None and no pids count as 0."""
    total = 0
    for pid in pids:
        if pid:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")
