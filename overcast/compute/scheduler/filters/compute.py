"""ComputeFilter: only hosts whose compute service is enabled and up."""

from __future__ import annotations

from overcast.compute.scheduler.filters import BaseFilter, RequestSpec
from overcast.compute.scheduler.host_state import HostState


class ComputeFilter(BaseFilter):
    run_filter_once_per_request = True

    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        return host_state.service_up and not host_state.service_disabled
