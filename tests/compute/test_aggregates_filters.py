"""Aggregate metadata and availability zones in the scheduler's filters."""

from __future__ import annotations

from typing import Any

from overcast.compute.scheduler.filters.aggregates import AggregateInstanceExtraSpecsFilter
from overcast.compute.scheduler.filters.availability_zone import AvailabilityZoneFilter
from overcast.compute.scheduler.host_state import HostState


def host(*aggregates: dict[str, Any], zone: str = "nova") -> HostState:
    return HostState(
        host="h",
        node="h",
        uuid="h",
        vcpus=4,
        vcpus_used=0,
        memory_mb=4096,
        memory_mb_used=0,
        local_gb=40,
        local_gb_used=0,
        availability_zone=zone,
        aggregates=list(aggregates),
    )


def agg(zone: str | None = None, **metadata: str) -> dict[str, Any]:
    if zone:
        metadata["availability_zone"] = zone
    return {"name": "a", "availability_zone": zone, "metadata": metadata}


def flavor(**extra: str) -> dict[str, Any]:
    return {"flavor": {"extra_specs": extra}}


def test_extra_specs_match_aggregate_metadata() -> None:
    f = AggregateInstanceExtraSpecsFilter()
    ssd = host(agg(disk="ssd", cpus="8"))
    assert f.host_passes(ssd, flavor())
    assert f.host_passes(ssd, flavor(disk="ssd"))
    assert f.host_passes(ssd, flavor(**{"aggregate_instance_extra_specs:disk": "ssd"}))
    assert f.host_passes(ssd, flavor(cpus=">= 4", **{"hw:cpu_policy": "dedicated"}))
    assert f.host_passes(ssd, flavor(disk="<or> hdd <or> ssd"))
    assert not f.host_passes(ssd, flavor(disk="hdd"))
    assert not f.host_passes(ssd, flavor(cpus=">= 16"))
    assert not f.host_passes(host(), flavor(disk="ssd"))


def test_availability_zone_from_aggregates_or_default() -> None:
    f = AvailabilityZoneFilter()
    zoned = host(agg("az1"), zone="az1")
    plain = host()
    assert f.host_passes(plain, {"availability_zone": None})
    assert f.host_passes(zoned, {"availability_zone": "az1"})
    assert f.host_passes(zoned, {"availability_zone": "az1:h"})
    assert not f.host_passes(plain, {"availability_zone": "az1"})
    assert f.host_passes(plain, {"availability_zone": "nova"})
    assert not f.host_passes(zoned, {"availability_zone": "nova"})
