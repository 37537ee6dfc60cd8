"""SameHostFilter: with the `same_host` hint, only hosts running one of the given instances."""

from __future__ import annotations

from overcast.compute.scheduler.filters import BaseFilter, RequestSpec, hint_list
from overcast.compute.scheduler.host_state import HostState


class SameHostFilter(BaseFilter):
    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        wanted = hint_list(spec, "same_host")
        return not wanted or any(u in host_state.instance_uuids for u in wanted)
