"""os-services: compute's units for admins. `forced_down` shows from 2.11; from 2.53 services
have UUID ids and change with PUT /os-services/{id}, before with PUT /os-services/{action}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from overcast.common import errors
from overcast.compute import host_services
from overcast.compute.api import inputs
from overcast.compute.api.deps import Req, json_body, req
from overcast.compute.host_services import ServiceView
from overcast.compute.scheduler.manager import hosts_changed

router = APIRouter()
RULE = "os_compute_api:os-services:"
_ACTIONS = ("enable", "disable", "disable-log-reason", "force-down")


def _view(r: Req, svc: ServiceView) -> dict[str, Any]:
    row = svc.row
    out: dict[str, Any] = {
        "id": row.uuid if r.at_least("2.53") else row.id,
        "binary": row.binary,
        "host": row.host,
        "zone": svc.zone,
        "status": "disabled" if row.disabled else "enabled",
        "state": "up" if svc.up else "down",
        "updated_at": inputs.isotime(row.updated_at),
        "disabled_reason": row.disabled_reason,
    }
    if r.at_least("2.11"):
        out["forced_down"] = bool(row.forced_down)
    return out


async def _one(r: Req, session: Any, row: Any) -> dict[str, Any]:
    views = await host_services.list_services(
        session, r.state.settings.compute, host=row.host, binary=row.binary
    )
    return _view(r, views[0])


@router.get("/v2.1/os-services")
async def index(request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "list", {})
    host, binary = request.query_params.get("host"), request.query_params.get("binary")
    async with r.state.db.reader() as session:
        found = await host_services.list_services(
            session, r.state.settings.compute, host=host, binary=binary
        )
    return {"services": [_view(r, s) for s in found]}


async def _update_by_id(r: Req, service_id: str, body: dict[str, Any]) -> dict[str, Any]:
    inputs.only(body, {"status", "disabled_reason", "forced_down"})
    if "status" not in body and "forced_down" not in body:
        raise errors.BadRequest(
            "At least one of 'status' or 'forced_down' must be specified in the request body."
        )
    status = body.get("status")
    if status is not None and status not in ("enabled", "disabled"):
        raise inputs.invalid("status", status, f"{status!r} is not one of ['enabled', 'disabled']")
    reason = body.get("disabled_reason")
    if reason is not None:
        reason = inputs.string(reason, "disabled_reason")
        if status != "disabled":
            raise errors.BadRequest(
                "Specifying 'disabled_reason' with status 'enabled' is invalid."
                if status == "enabled"
                else "'disabled_reason' is only valid with status 'disabled'."
            )
    forced = body.get("forced_down")
    if forced is not None and not isinstance(forced, bool):
        raise inputs.invalid("forced_down", forced, f"{forced!r} is not of type 'boolean'")
    async with r.state.db.session() as session:
        row = await host_services.find(session, service_id)
        if row.binary != host_services.COMPUTE:
            raise errors.BadRequest(
                f"Updating a {row.binary} service is not supported. Only nova-compute services "
                "can be updated."
            )
        if status is not None:
            host_services.set_status(row, status == "disabled", reason)
        if forced is not None:
            host_services.set_forced_down(row, forced)
        await session.flush()
        out = {"service": await _one(r, session, row)}
    await hosts_changed(r.state.bus)
    return out


async def _update_by_action(r: Req, action: str, body: dict[str, Any]) -> dict[str, Any]:
    if action not in _ACTIONS or (action == "force-down" and not r.at_least("2.11")):
        raise errors.NotFound(f"Unknown action {action}")
    allowed = {"host", "binary", "disabled_reason", "forced_down"}
    inputs.only(body, allowed)
    host = inputs.string(inputs.required(body, "host", "service"), "host")
    binary = inputs.string(inputs.required(body, "binary", "service"), "binary")
    out: dict[str, Any] = {"host": host, "binary": binary}
    async with r.state.db.session() as session:
        row = await host_services.find_by_host(session, host, binary)
        if action == "force-down":
            forced = inputs.boolean(inputs.required(body, "forced_down", "service"), "forced_down")
            host_services.set_forced_down(row, forced)
            out["forced_down"] = forced
        else:
            reason = None
            if action == "disable-log-reason":
                reason = inputs.string(
                    inputs.required(body, "disabled_reason", "service"), "disabled_reason"
                )
                out["disabled_reason"] = reason
            host_services.set_status(row, action != "enable", reason)
            out["status"] = "enabled" if action == "enable" else "disabled"
    await hosts_changed(r.state.bus)
    return {"service": out}


@router.put("/v2.1/os-services/{service_id}")
async def update(service_id: str, request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "update", {})
    body = await json_body(request)
    if r.at_least("2.53"):
        return await _update_by_id(r, service_id, body)
    return await _update_by_action(r, service_id, body)


@router.delete("/v2.1/os-services/{service_id}")
async def delete(service_id: str, r: Req = Depends(req)) -> Response:
    r.enforce(RULE + "delete", {})
    async with r.state.db.session() as session:
        await host_services.remove(session, await host_services.find(session, service_id))
    await hosts_changed(r.state.bus)
    return Response(status_code=204)
