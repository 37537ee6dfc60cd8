"""AvailabilityZoneFilter: with a zone asked for, only hosts in that zone.

A host's zone comes from its aggregates' `availability_zone` metadata (the default zone when
none has one); a host may be listed under several zones' aggregates only if they agree.
"""

from __future__ import annotations

from overcast.compute.scheduler.filters import BaseFilter, RequestSpec
from overcast.compute.scheduler.host_state import HostState


def requested_zone(spec: RequestSpec) -> str | None:
    """The zone part of `availability_zone` (which may be `zone:host[:node]`)."""
    value = spec.get("availability_zone")
    if not value:
        return None
    zone = str(value).split(":", 1)[0]
    return zone or None


class AvailabilityZoneFilter(BaseFilter):
    run_filter_once_per_request = True

    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        zone = requested_zone(spec)
        if zone is None:
            return True
        zones = {a.get("availability_zone") for a in host_state.aggregates}
        zones.discard(None)
        if zones:
            return zone in zones
        return zone == host_state.availability_zone
