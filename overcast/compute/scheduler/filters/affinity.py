"""Server group policies: the hard ones as filters, the soft ones as weighers (as Nova does).

`affinity`: every member on one host. `anti-affinity`: at most `max_server_per_host` members
(default 1) per host. `soft-affinity` / `soft-anti-affinity` never refuse a host; their weighers
prefer the hosts with the most / the fewest members. Members already placed by this request
count too: the scheduler adds each choice to `instance_group.hosts` and the host's
`instance_uuids`, as Nova's `_consume_selected_host` does.
"""

from __future__ import annotations

from typing import Any

from overcast.compute.scheduler.filters import BaseFilter, RequestSpec
from overcast.compute.scheduler.host_state import HostState


def _group(spec: RequestSpec, policy: str) -> dict[str, Any] | None:
    group = spec.get("instance_group") or None
    return group if group is not None and group.get("policy") == policy else None


def members_on_host(host_state: HostState, group: dict[str, Any]) -> int:
    return len(host_state.instance_uuids.intersection(group.get("members") or ()))


class ServerGroupAffinityFilter(BaseFilter):
    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        group = _group(spec, "affinity")
        if group is None:
            return True
        hosts = group.get("hosts") or []
        return not hosts or host_state.host in hosts


class ServerGroupAntiAffinityFilter(BaseFilter):
    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        group = _group(spec, "anti-affinity")
        if group is None:
            return True
        # A move may land back on the host it starts from (Nova's resize to same host).
        uuids = spec.get("instance_uuids") or []
        if len(uuids) == 1 and uuids[0] in host_state.instance_uuids:
            return True
        limit = int((group.get("rules") or {}).get("max_server_per_host", 1))
        on_host = members_on_host(host_state, group)
        if not host_state.instance_uuids and host_state.host in (group.get("hosts") or []):
            on_host = max(on_host, 1)  # instances not loaded: fall back to the group's hosts
        return on_host < limit


def soft_affinity_weight(host_state: HostState, spec: RequestSpec) -> float:
    """ServerGroupSoftAffinityWeigher: the more members here, the better."""
    group = _group(spec, "soft-affinity")
    return float(members_on_host(host_state, group)) if group is not None else 0.0


def soft_anti_affinity_weight(host_state: HostState, spec: RequestSpec) -> float:
    """ServerGroupSoftAntiAffinityWeigher: the fewer members here, the better."""
    group = _group(spec, "soft-anti-affinity")
    return -float(members_on_host(host_state, group)) if group is not None else 0.0
