"""os-availability-zone: the zones users may boot into, and for admins (`/detail`) every zone
with its hosts and their services. A zone is available while one of its services is enabled;
the `internal` zone (scheduler, conductor) shows only in the detail."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from overcast.compute import aggregates, host_services
from overcast.compute.api import inputs
from overcast.compute.api.deps import Req, req
from overcast.compute.host_services import ServiceView

router = APIRouter()
RULE = "os_compute_api:os-availability-zone:"


def _zones(views: list[ServiceView]) -> tuple[list[str], list[str]]:
    """(available, not available) zone names, in first-seen order."""
    up: dict[str, None] = {}
    down: dict[str, None] = {}
    for view in views:
        for zone in view.zone.split(","):
            (down if view.row.disabled else up)[zone] = None
    return list(up), [z for z in down if z not in up]


async def _services(r: Req) -> list[ServiceView]:
    async with r.state.db.reader() as session:
        return await host_services.list_services(session, r.state.settings.compute)


@router.get("/v2.1/os-availability-zone")
async def index(r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "list")
    available, unavailable = _zones(await _services(r))
    info = [
        {"zoneName": zone, "zoneState": {"available": ok}, "hosts": None}
        for zones, ok in ((available, True), (unavailable, False))
        for zone in zones
        if zone != aggregates.INTERNAL_AZ
    ]
    return {"availabilityZoneInfo": info}


@router.get("/v2.1/os-availability-zone/detail")
async def detail(r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "detail", {})
    views = await _services(r)
    available, unavailable = _zones(views)
    hosts: dict[str, dict[str, dict[str, Any]]] = {}
    for view in views:
        if view.row.disabled:
            continue
        for zone in view.zone.split(","):
            services = hosts.setdefault(zone, {}).setdefault(view.row.host, {})
            services[view.row.binary] = {
                "available": view.up,
                "active": not view.row.disabled,
                "updated_at": inputs.isotime(view.row.updated_at),
            }
    info: list[dict[str, Any]] = [
        {"zoneName": zone, "zoneState": {"available": True}, "hosts": hosts.get(zone, {})}
        for zone in available
    ]
    info += [
        {"zoneName": zone, "zoneState": {"available": False}, "hosts": None} for zone in unavailable
    ]
    return {"availabilityZoneInfo": info}
