"""AggregateInstanceExtraSpecsFilter: flavor extra specs against host aggregate metadata.

A spec `key` or `aggregate_instance_extra_specs:key` needs some aggregate of the host to have
metadata `key` matching it (Nova's operators, as in the capabilities filter); specs in other
scopes (`hw:`, `capabilities:`...) are not this filter's business.
"""

from __future__ import annotations

from collections import defaultdict

from overcast.compute.scheduler.filters import BaseFilter, RequestSpec
from overcast.compute.scheduler.filters.capabilities import match
from overcast.compute.scheduler.host_state import HostState

SCOPE = "aggregate_instance_extra_specs"


def metadata_by_key(host_state: HostState) -> dict[str, set[str]]:
    """Every value each metadata key has across the host's aggregates."""
    out: dict[str, set[str]] = defaultdict(set)
    for aggregate in host_state.aggregates:
        for key, value in (aggregate.get("metadata") or {}).items():
            out[key].add(str(value))
    return out


class AggregateInstanceExtraSpecsFilter(BaseFilter):
    run_filter_once_per_request = True

    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        extra = (spec.get("flavor") or {}).get("extra_specs") or {}
        if not extra:
            return True
        metadata = metadata_by_key(host_state)
        for key, requirement in extra.items():
            scope, sep, name = key.partition(":")
            if sep:
                if scope != SCOPE:
                    continue
                key = name
            values = metadata.get(key)
            if not values or not any(match(v, str(requirement)) for v in values):
                return False
        return True
