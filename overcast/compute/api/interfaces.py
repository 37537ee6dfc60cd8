"""/servers/{id}/os-interface: a server's ports (from its network info), and attach and
detach (`openstack server add/remove port`, `server add/remove network`, `server add fixed
ip`), carried out by the server's compute host over the bus."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.common import errors
from overcast.compute import servers, states
from overcast.compute.api.deps import Req, json_body, req
from overcast.compute.api.servers import _json

router = APIRouter(prefix="/v2.1")


def _view(vif: dict[str, Any]) -> dict[str, Any]:
    return {
        "port_state": "ACTIVE",
        "port_id": vif["port_id"],
        "net_id": vif["network_id"],
        "mac_addr": vif.get("mac"),
        "fixed_ips": [
            {"subnet_id": ip.get("subnet_id"), "ip_address": ip["ip_address"]}
            for ip in vif.get("fixed_ips", [])
        ],
        "tag": vif.get("tag"),
    }


async def _server(r: Req, server_id: str, rule: str) -> Any:
    async with r.state.db.reader() as session:
        inst = await servers.get(session, r.ctx, server_id)
    r.enforce(f"os_compute_api:os-attach-interfaces:{rule}", {"project_id": inst.project_id})
    return inst


@router.get("/servers/{server_id}/os-interface")
async def index(server_id: str, r: Req = Depends(req)) -> Response:
    inst = await _server(r, server_id, "list")
    return _json({"interfaceAttachments": [_view(v) for v in inst.network_info or []]})


@router.get("/servers/{server_id}/os-interface/{port_id}")
async def show(server_id: str, port_id: str, r: Req = Depends(req)) -> Response:
    inst = await _server(r, server_id, "show")
    for vif in inst.network_info or []:
        if vif["port_id"] == port_id:
            return _json({"interfaceAttachment": _view(vif)})
    raise errors.NotFound(f"Network interface {port_id} could not be found.")


def _request(body: dict[str, Any]) -> dict[str, Any]:
    given = body.get("interfaceAttachment", {})
    if not isinstance(given, dict):
        raise errors.BadRequest("Invalid input for field/attribute interfaceAttachment.")
    port, net = given.get("port_id"), given.get("net_id")
    if port and net:
        raise errors.BadRequest("Must not input both network_id and port_id")
    fixed = given.get("fixed_ips") or []
    if fixed and not net:
        raise errors.BadRequest("Must input network_id when request IP address")
    if not isinstance(fixed, list) or len(fixed) > 1:
        raise errors.BadRequest("Invalid input for field/attribute fixed_ips.")
    out: dict[str, Any] = {"tag": given.get("tag")}
    if port:
        out["port"] = port
    elif net:
        out["uuid"] = net
        if fixed:
            out["fixed_ip"] = fixed[0].get("ip_address")
    return out


@router.post("/servers/{server_id}/os-interface")
async def create(server_id: str, request: Request, r: Req = Depends(req)) -> Response:
    inst = await _server(r, server_id, "create")
    wanted = _request(await json_body(request))
    if (
        inst.vm_state not in (states.ACTIVE, states.STOPPED, "paused", "suspended")
        or inst.task_state
    ):
        raise errors.Conflict(
            f"Cannot 'attach_interface' instance {server_id} while it is in vm_state {inst.vm_state}"
        )
    if "port" not in wanted and "uuid" not in wanted:
        raise errors.BadRequest("A network or a port is needed.")
    vif = await r.state.bus.call(
        f"compute.{inst.host}",
        "attach_interface",
        r.bus_ctx,
        timeout=r.state.settings.compute.vif_plugging_timeout + 60,
        instance_uuid=inst.uuid,
        request=wanted,
    )
    return _json({"interfaceAttachment": _view(vif)})


@router.delete("/servers/{server_id}/os-interface/{port_id}", status_code=202)
async def delete(server_id: str, port_id: str, r: Req = Depends(req)) -> Response:
    inst = await _server(r, server_id, "delete")
    if not any(v["port_id"] == port_id for v in inst.network_info or []):
        raise errors.NotFound(f"Port {port_id} is not attached")
    await r.state.bus.call(
        f"compute.{inst.host}",
        "detach_interface",
        r.bus_ctx,
        instance_uuid=inst.uuid,
        port_id=port_id,
    )
    return Response(status_code=202)
