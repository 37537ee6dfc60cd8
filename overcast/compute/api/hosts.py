"""os-hosts (Nova, below microversion 2.43): hosts and their services, one host's resources,
enabling or disabling a host's compute service. Maintenance mode and host power actions answer
501, as Nova does for drivers without them; unknown hosts 404 first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from overcast.common import errors
from overcast.compute import host_services, hosts
from overcast.compute.api.deps import Req, json_body, req
from overcast.compute.scheduler.manager import hosts_changed

router = APIRouter(prefix="/v2.1/os-hosts")
RULE = "os_compute_api:os-hosts:"
_SWITCH = ("enable", "disable")


def _served(r: Req) -> None:
    if r.at_least("2.43"):
        raise errors.NotFound("The resource could not be found.")


@router.get("")
async def index(request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    _served(r)
    r.enforce(RULE + "list", {})
    async with r.state.db.reader() as session:
        found = await hosts.list_hosts(
            session, r.state.settings.compute, request.query_params.get("zone") or None
        )
    return {"hosts": found}


@router.get("/{host_name}")
async def show(host_name: str, r: Req = Depends(req)) -> dict[str, Any]:
    _served(r)
    r.enforce(RULE + "show", {})
    async with r.state.db.reader() as session:
        return {"host": await hosts.resources(session, host_name)}


@router.put("/{host_name}")
async def update(host_name: str, request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    _served(r)
    r.enforce(RULE + "update", {})
    body = await json_body(request)
    unknown = sorted(set(body) - {"status", "maintenance_mode"})
    if unknown or not body:
        raise errors.BadRequest("Set 'status' or 'maintenance_mode' (and nothing else).")
    for key, value in body.items():
        if value not in _SWITCH:
            raise errors.BadRequest(f"Invalid input for field/attribute {key}. Value: {value}.")
    async with r.state.db.session() as session:
        service = await hosts.compute_service(session, host_name)
        if "maintenance_mode" in body:
            raise errors.NotSupported("Maintenance mode is not supported by this host's driver.")
        host_services.set_status(service, body["status"] == "disable")
    await hosts_changed(r.state.bus)
    return {"host": host_name, "status": body["status"] + "d"}


@router.get("/{host_name}/{action}")
async def power(host_name: str, action: str, r: Req = Depends(req)) -> dict[str, Any]:
    _served(r)
    if action not in ("startup", "shutdown", "reboot"):
        raise errors.NotFound("The resource could not be found.")
    r.enforce(RULE + ("start" if action == "startup" else action), {})
    async with r.state.db.reader() as session:
        await hosts.compute_service(session, host_name)
    raise errors.NotSupported(f"Host power action {action} is not supported by this driver.")
