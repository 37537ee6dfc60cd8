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


def tree_cpu_seconds(*pids: int | None) -> float:
    """`cpu_seconds` of `pids` and every process below them (a server's helper processes)."""
    return cpu_seconds(*(found for pid in pids if pid for found in _descendants(pid)))


def _descendants(pid: int) -> list[int]:
    """`pid` and every process below it (from /proc/PID/task/TID/children, Linux)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{current}/task/{tid}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
            except OSError:
                pass
    return found


def _matching(needle: str) -> list[int]:
    """Processes whose command line (as `ps` shows it: PostgreSQL's backends rewrite theirs to
    'postgres: ... USER DATABASE ...') holds `needle` as a word or a word's file name."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    words = cmdline.read().replace(b"\0", b" ").decode(errors="replace").split()
            except OSError:
                continue
            if needle in words or needle in (word.rsplit("/", 1)[-1] for word in words):
                found.append(int(entry))
    return found


class CpuMeter:
    """CPU seconds of named groups of local processes over a phase: each group is a process with
    everything below it (`name=PID`), the processes whose command line holds a word
    (`name=~WORD`: a database's PostgreSQL backends, `beam.smp`'s path for RabbitMQ), or this
    process (`self`). Processes that start during the phase count from zero; those that end in
    it are lost (their CPU is not readable any more)."""

    def __init__(self, groups: dict[str, str]) -> None:
        self.groups = groups
        self.before: dict[int, float] = {}

    def _pids(self, spec: str) -> list[int]:
        if spec == "self":
            return [os.getpid()]
        if spec.startswith("~"):
            return _matching(spec[1:])
        return _descendants(int(spec))

    def _read(self) -> dict[str, dict[int, float]]:
        out: dict[str, dict[int, float]] = {}
        for name, spec in self.groups.items():
            seen = out.setdefault(name, {})
            for pid in self._pids(spec):
                try:
                    seen[pid] = cpu_seconds(pid)
                except OSError:
                    pass
        return out

    def start(self) -> None:
        self.before = {pid: cpu for group in self._read().values() for pid, cpu in group.items()}

    def stop(self) -> dict[str, float]:
        """CPU seconds of each group since start()."""
        return {
            name: sum(cpu - self.before.get(pid, 0.0) for pid, cpu in group.items())
            for name, group in self._read().items()
        }


def parse_groups(text: str) -> dict[str, str]:
    """'controller=123,db=~boot_x,client=self' -> {'controller': '123', ...} for CpuMeter."""
    return dict(part.split("=", 1) for part in text.split(",") if part)
