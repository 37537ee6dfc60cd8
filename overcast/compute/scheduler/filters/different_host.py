"""DifferentHostFilter: with the `different_host` hint, only hosts running none of them."""

from __future__ import annotations

from overcast.compute.scheduler.filters import BaseFilter, RequestSpec, hint_list
from overcast.compute.scheduler.host_state import HostState


class DifferentHostFilter(BaseFilter):
    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        avoid = hint_list(spec, "different_host")
        return not any(u in host_state.instance_uuids for u in avoid)
