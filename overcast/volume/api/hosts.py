"""What the back ends look like: /v3/os-availability-zone, /v3/os-services (list, enable,
disable, freeze, thaw), /v3/scheduler-stats/get_pools and /v3/capabilities/{host}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.common.http import bodies
from overcast.volume.api import schemas, views
from overcast.volume.api.deps import Req, req
from overcast.volume.models.hosts import Service
from overcast.volume.scheduler import pools

router = APIRouter(prefix="/v3")


@router.get("/os-availability-zone")
async def zones(r: Req = Depends(req)) -> Any:
    r.enforce("volume_extension:availability_zone_list")
    down = r.state.settings.volume.service_down_time
    async with r.state.db.reader() as session:
        rows = list(
            (await session.execute(select(Service).where(Service.binary == pools.BINARY))).scalars()
        )
    available: dict[str, bool] = {}
    for row in rows:
        up = pools.is_up(row, down) and not row.disabled
        available[row.availability_zone] = available.get(row.availability_zone, False) or up
    return {
        "availabilityZoneInfo": [
            {"zoneName": name, "zoneState": {"available": up}}
            for name, up in sorted(available.items())
        ]
    }


def _service(r: Req, s: Service) -> dict[str, Any]:
    up = pools.is_up(s, r.state.settings.volume.service_down_time)
    out: dict[str, Any] = {
        "binary": s.binary,
        "host": s.host,
        "zone": s.availability_zone,
        "status": "disabled" if s.disabled else "enabled",
        "state": "up" if up else "down",
        "updated_at": views.ts(s.updated_at),
        "disabled_reason": s.disabled_reason,
    }
    if s.binary == pools.BINARY:
        out["frozen"] = s.frozen
        out["replication_status"] = "disabled"
        out["active_backend_id"] = None
    if r.at_least("3.7"):
        out["cluster"] = None
    if r.at_least("3.49") and s.binary == pools.BINARY:
        out["backend_state"] = "up" if s.capabilities else "down"
    return out


@router.get("/os-services")
async def services(request: Request, r: Req = Depends(req)) -> Any:
    r.enforce("volume_extension:services:index")
    params = request.query_params
    stmt = select(Service).order_by(Service.id)
    if params.get("host"):
        # A node's name matches its back ends too (`node` finds `node@backend`), as in Cinder.
        host = params["host"]
        stmt = stmt.where((Service.host == host) | Service.host.startswith(f"{host}@"))
    if params.get("binary"):
        stmt = stmt.where(Service.binary == params["binary"])
    async with r.state.db.reader() as session:
        rows = (await session.execute(stmt)).scalars()
        return {"services": [_service(r, s) for s in rows]}


@router.put("/os-services/{action}")
async def update_service(action: str, request: Request, r: Req = Depends(req)) -> Any:
    r.enforce("volume_extension:services:update")
    if action not in ("enable", "disable", "disable-log-reason", "freeze", "thaw"):
        raise errors.NotFound(f"Unknown action {action}")
    body = await bodies.json_object(request)
    host = schemas.text(body.get("host"), "host", nullable=False)
    binary = body.get("binary", pools.BINARY)
    async with r.state.db.session() as session:
        rows = list(
            (
                await session.execute(
                    select(Service).where(Service.host == host, Service.binary == binary)
                )
            ).scalars()
        )
        if action in ("freeze", "thaw"):
            rows = list(
                (await session.execute(select(Service).where(Service.host == host))).scalars()
            )
        if not rows and action in ("freeze", "thaw"):
            raise errors.BadRequest(f"Invalid input received: Host {host} is not a back end.")
        if not rows:
            raise errors.NotFound(f"Service {binary} on host {host} could not be found.")
        for row in rows:
            if action == "enable":
                row.disabled, row.disabled_reason = False, None
            elif action.startswith("disable"):
                reason = body.get("disabled_reason")
                if action == "disable-log-reason":
                    reason = schemas.text(reason, "disabled_reason", nullable=False)
                row.disabled, row.disabled_reason = True, reason
            else:
                row.frozen = action == "freeze"
            row.updated_at = utcnow()
        row = rows[0]
        if action in ("freeze", "thaw"):
            return {}
        out = {
            "host": row.host,
            "binary": row.binary,
            "status": "disabled" if row.disabled else "enabled",
        }
        if row.disabled_reason:
            out["disabled_reason"] = row.disabled_reason
        return out


@router.get("/scheduler-stats/get_pools")
async def get_pools(request: Request, r: Req = Depends(req)) -> Any:
    r.enforce("scheduler_extension:scheduler_stats:get_pools")
    detail = schemas.boolean(request.query_params.get("detail", "false"), "detail")
    name = request.query_params.get("name")
    backend_name = request.query_params.get("volume_backend_name")
    async with r.state.db.reader() as session:
        found = await pools.live(session, r.state.settings.volume.service_down_time)
    out = []
    for pool in found:
        caps = {
            **pool.capabilities,
            "allocated_capacity_gb": pool.allocated_capacity_gb,
            "timestamp": None,
        }
        if name and pool.host != name:
            continue
        if backend_name and caps.get("volume_backend_name") != backend_name:
            continue
        out.append({"name": pool.host, **({"capabilities": caps} if detail else {})})
    return {"pools": out}


@router.get("/capabilities/{host}")
async def capabilities(host: str, r: Req = Depends(req)) -> Any:
    r.enforce("volume_extension:capabilities")
    async with r.state.db.reader() as session:
        row = await session.scalar(
            select(Service).where(Service.host == host, Service.binary == pools.BINARY)
        )
    if row is None or not row.capabilities:
        raise errors.NotFound(f"Service {host} could not be found.")
    caps = next(iter(row.capabilities.values()))
    return {
        "namespace": f"OS::Storage::Capabilities::{host}",
        "volume_backend_name": caps.get("volume_backend_name"),
        "pool_name": caps.get("pool_name"),
        "driver_version": caps.get("driver_version"),
        "storage_protocol": caps.get("storage_protocol"),
        "vendor_name": caps.get("vendor_name"),
        "display_name": None,
        "visibility": "pool",
        "description": None,
        "replication_targets": [],
        "properties": {
            "thin_provisioning": {
                "title": "Thin Provisioning",
                "description": "Sets thin provisioning.",
                "type": "boolean",
            },
            "multiattach": {
                "title": "Multi-attach",
                "description": "Volumes may be attached to several servers.",
                "type": "boolean",
            },
        },
    }
