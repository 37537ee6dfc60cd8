"""/servers/{id}/os-volume_attachments: list, show, attach and detach volumes of a server.

Attach reserves an attachment in the block storage service with the caller's token (its
errors, such as a volume already in use, answer as they come: 400 or 404), then asks the
server's host to connect it (`agent.volumes`); detach asks the host to disconnect and drop it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.common import errors
from overcast.compute import conductor, servers, states
from overcast.compute import volumes as bdm_volumes
from overcast.compute.api.deps import Req, json_body, req
from overcast.compute.api.servers import _json
from overcast.compute.models.instances import Instance

router = APIRouter(prefix="/v2.1")
RULE = "os_compute_api:os-volumes-attachments"
_ATTACHABLE = (states.ACTIVE, states.PAUSED, states.STOPPED, states.SUSPENDED)


def _view(r: Req, inst: Instance, a: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "serverId": inst.uuid,
        "volumeId": a["volume_id"],
        "device": a.get("device_name"),
    }
    if not r.at_least("2.89"):
        out["id"] = a["volume_id"]
    if r.at_least("2.70"):
        out["tag"] = a.get("tag")
    if r.at_least("2.79"):
        out["delete_on_termination"] = bool(a.get("delete_on_termination"))
    if r.at_least("2.89"):
        out["attachment_id"] = a.get("attachment_id")
        out["bdm_uuid"] = a.get("attachment_id")
    return out


async def _server(r: Req, server_id: str, rule: str) -> Instance:
    async with r.state.db.reader() as session:
        inst = await servers.get(session, r.ctx, server_id)
    r.enforce(f"{RULE}:{rule}", {"project_id": inst.project_id})
    return inst


@router.get("/servers/{server_id}/os-volume_attachments")
async def index(server_id: str, r: Req = Depends(req)) -> Response:
    inst = await _server(r, server_id, "index")
    return _json({"volumeAttachments": [_view(r, inst, a) for a in inst.attachments or []]})


@router.get("/servers/{server_id}/os-volume_attachments/{volume_id}")
async def show(server_id: str, volume_id: str, r: Req = Depends(req)) -> Response:
    inst = await _server(r, server_id, "show")
    for a in inst.attachments or []:
        if a["volume_id"] == volume_id:
            return _json({"volumeAttachment": _view(r, inst, a)})
    raise errors.NotFound(f"Volume {volume_id} is not attached to the instance {server_id}.")


def _next_device(inst: Instance) -> str:
    used = {a.get("device_name") for a in inst.attachments or []}
    if inst.image_ref:
        used.add(bdm_volumes.device_name(0))
    index = 0
    while bdm_volumes.device_name(index) in used:
        index += 1
    return bdm_volumes.device_name(index)


@router.post("/servers/{server_id}/os-volume_attachments")
async def attach(server_id: str, request: Request, r: Req = Depends(req)) -> Response:
    body = (await json_body(request)).get("volumeAttachment")
    if not isinstance(body, dict) or not isinstance(body.get("volumeId"), str):
        raise errors.BadRequest("Invalid input for field/attribute volumeAttachment.")
    volume_id = body["volumeId"]
    inst = await _server(r, server_id, "create")
    servers.check_not_locked(inst, r.ctx)
    if inst.vm_state not in _ATTACHABLE or inst.task_state is not None or not inst.host:
        raise errors.Conflict(
            f"Cannot 'attach_volume' instance {inst.uuid} while it is in vm_state {inst.vm_state}"
        )
    if any(a["volume_id"] == volume_id for a in inst.attachments or []):
        raise errors.BadRequest(f"Invalid volume: volume {volume_id} is already attached.")
    client = r.state.remote.volume(r.bus_ctx)
    if client is None:
        raise errors.BadRequest("There is no volume service in this cloud.")
    try:
        await client.get_volume(volume_id)
    except errors.NotFound as exc:
        raise errors.NotFound(f"Volume {volume_id} could not be found.") from exc
    attachment = await client.create_attachment(volume_id, inst.uuid)
    device = body.get("device") or _next_device(inst)
    try:
        item = await r.state.bus.call(
            conductor.agent(inst.host),
            "attach_volume",
            r.bus_ctx,
            instance_uuid=inst.uuid,
            volume_id=volume_id,
            attachment_id=attachment["id"],
            device=device,
            tag=body.get("tag"),
            delete_on_termination=bool(body.get("delete_on_termination", False)),
        )
    except errors.OvercastError:
        await client.delete_attachment(attachment["id"])
        raise
    return _json({"volumeAttachment": _view(r, inst, item)})


@router.delete("/servers/{server_id}/os-volume_attachments/{volume_id}", status_code=202)
async def detach(server_id: str, volume_id: str, r: Req = Depends(req)) -> Response:
    inst = await _server(r, server_id, "delete")
    servers.check_not_locked(inst, r.ctx)
    if not any(a["volume_id"] == volume_id for a in inst.attachments or []):
        raise errors.NotFound(f"Volume {volume_id} is not attached to the instance {server_id}.")
    if inst.task_state is not None or not inst.host:
        raise errors.Conflict(
            f"Cannot 'detach_volume' instance {inst.uuid} while it is in task_state"
            f" {inst.task_state}"
        )
    await r.state.bus.call(
        conductor.agent(inst.host),
        "detach_volume",
        r.bus_ctx,
        instance_uuid=inst.uuid,
        volume_id=volume_id,
    )
    return Response(status_code=202)
