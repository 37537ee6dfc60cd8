"""Tempest's results per service: parse the CSV that `subunit2csv` makes of a run, print one
table of passed / failed / skipped per service and the ids of the failures. Called by `run.py`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

# `tempest.api.compute.servers.test_x.Class.test_y[id-...,smoke]` -> without the tags.
_TAGS = re.compile(r"\[.*\]$")


@dataclass
class Outcome:
    service: str
    passed: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: int = 0

    @property
    def ran(self) -> int:
        return self.passed + len(self.failed)

    @property
    def rate(self) -> float:
        return 100.0 * self.passed / self.ran if self.ran else 0.0


def parse(service: str, text: str) -> Outcome:
    outcome = Outcome(service)
    for row in csv.DictReader(io.StringIO(text)):
        status = row.get("status", "")
        test = _TAGS.sub("", row.get("test", ""))
        if status in ("success", "xfail"):
            outcome.passed += 1
        elif status == "skip":
            outcome.skipped += 1
        elif status in ("fail", "failure", "uxsuccess"):
            outcome.failed.append(test)
    return outcome


def table(outcomes: list[Outcome]) -> str:
    lines = [f"{'service':<16}{'passed':>8}{'failed':>8}{'skipped':>9}{'pass %':>9}"]
    for o in outcomes:
        lines.append(f"{o.service:<16}{o.passed:>8}{len(o.failed):>8}{o.skipped:>9}{o.rate:>8.1f}%")
    for o in outcomes:
        if o.failed:
            lines.append(f"\nfailed in {o.service}:")
            lines.extend(f"  {test}" for test in sorted(o.failed))
    return "\n".join(lines)
