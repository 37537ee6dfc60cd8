"""Hosts ranked once per load of the host states, for the plain requests that make up a burst.

A request with no hints, group, forced, requested or excluded hosts is decided by its flavor,
image and zone alone, so every such request alike is filtered and weighed once per load of the
host states (`compute.host_state_ttl`) instead of once per instance: the hosts that pass go into
a heap by weight, each placement takes the best that still has room and puts it back weighed
anew once its claim is counted in. A burst of boots then costs O(log hosts) each rather than
every filter and weigher over every host. The weighers' scales (Nova's normalisation over the
hosts that passed) are those of the load: a host's own claims move it down as they would.

`manager.Scheduler` keeps one `Ranking` per kind of plain request; anything else, and a plain
request the ranking cannot place, takes the full path.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
from typing import Any

from overcast.compute.scheduler import weighers
from overcast.compute.scheduler.filters import RequestSpec
from overcast.compute.scheduler.filters.resources import ResourceFilter
from overcast.compute.scheduler.host_state import HostState

# What differs between the instances of alike requests and decides nothing about their hosts.
_PER_INSTANCE = ("instance_uuids", "num_instances", "retry")
_STEERING = (
    "scheduler_hints",
    "instance_group",
    "force_hosts",
    "force_nodes",
    "requested_destination",
    "ignore_hosts",
)


def kind(spec: RequestSpec) -> str | None:
    """The key of requests placed alike, or None for one that must take the full path."""
    if any(spec.get(name) for name in _STEERING) or (spec.get("retry") or {}).get("hosts"):
        return None
    rest = {k: v for k, v in spec.items() if k not in _PER_INSTANCE}
    return json.dumps(rest, sort_keys=True, default=str)


class Ranking:
    """The hosts that passed every filter for one kind of request, best first."""

    def __init__(
        self,
        passed: list[HostState],
        spec: RequestSpec,
        settings: Any,
        report: list[dict[str, Any]],
    ) -> None:
        self.spec = spec
        self.report = report
        # A weigher on which every host was equal at load time (span 0, which normalises to
        # 0 for all) gets its low number as span, so that claims still move a host down: with
        # the span left at 0, ties would go to the first host for every instance of a burst.
        self.scales = [
            s if s.span else dataclasses.replace(s, span=abs(s.low) or 1.0)
            for s in weighers.scales(passed, spec, settings)
        ]
        self._room = ResourceFilter()
        # (-weight, position, host): ties go to the host listed first, as `weighers.weighed`.
        self._heap = [(-self.weight(h), i, h) for i, h in enumerate(passed)]
        self._position = {id(h): i for i, h in enumerate(passed)}
        heapq.heapify(self._heap)

    def weight(self, host: HostState) -> float:
        return weighers.weight(host, self.spec, self.scales)

    def take(self) -> HostState | None:
        """The best host that still has room for one instance, out of the heap until it is
        `put_back` (a host without room leaves for good: the states only fill up)."""
        while self._heap:
            _weight, _position, host = heapq.heappop(self._heap)
            if self._room.host_passes(host, self.spec):
                return host
        return None

    def put_back(self, host: HostState) -> None:
        """Return a taken host, weighed as it is now (its new claim counted in)."""
        heapq.heappush(self._heap, (-self.weight(host), self._position[id(host)], host))
