"""/servers/{id}/os-volume_attachments: list, show, attach, update (swap) and detach volumes of
a server.

Attach reserves an attachment in the block storage service with the caller's token (its
errors, such as a volume already in use, answer as they come: 400 or 404), then asks the
server's host to connect it (`agent.volumes`); detach asks the host to disconnect and drop it.
A shelved-offloaded server has no host: its attachments are reserved or dropped from here, and
unshelving connects them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.common import errors
from overcast.compute import conductor, servers, states, volume_swap
from overcast.compute import volumes as bdm_volumes
from overcast.compute.api.deps import Req, json_body, req
from overcast.compute.api.servers import _json
from overcast.compute.models.instances import Instance

router = APIRouter(prefix="/v2.1")
RULE = "os_compute_api:os-volumes-attachments"
_ATTACHABLE = (states.ACTIVE, states.PAUSED, states.STOPPED, states.SUSPENDED)
_DETACHABLE = (*_ATTACHABLE, states.SHELVED, states.SHELVED_OFFLOADED)  # not RESCUED, as Nova


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
    return bdm_volumes.next_device(inst.attachments or [], bool(inst.image_ref))


async def _save_attachments(r: Req, uuid: str, change: Any) -> None:
    """Set the server's volume list to `change(current list)` (no host owns it now)."""
    async with r.state.db.session() as session:
        row = await servers.get(session, r.ctx, uuid)
        row.attachments = change(list(row.attachments or []))


async def _attach_offloaded(
    r: Req, inst: Instance, client: Any, volume_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """2.20: a shelved-offloaded server's volume is reserved and marked in use with no host
    (no device yet); unshelving connects it on the server's new host."""
    attachment = await client.create_attachment(volume_id, inst.uuid)
    item = {
        "volume_id": volume_id,
        "attachment_id": attachment["id"],
        "boot_index": None,
        "device_name": None,
        "tag": body.get("tag"),
        "delete_on_termination": bool(body.get("delete_on_termination", False)),
        "connection_info": {},
    }
    try:
        await client.complete_attachment(attachment["id"])
        await _save_attachments(r, inst.uuid, lambda found: [*found, item])
    except errors.OvercastError:
        await client.delete_attachment(attachment["id"])
        raise
    return item


@router.post("/servers/{server_id}/os-volume_attachments")
async def attach(server_id: str, request: Request, r: Req = Depends(req)) -> Response:
    body = (await json_body(request)).get("volumeAttachment")
    if not isinstance(body, dict) or not isinstance(body.get("volumeId"), str):
        raise errors.BadRequest("Invalid input for field/attribute volumeAttachment.")
    volume_id = body["volumeId"]
    inst = await _server(r, server_id, "create")
    servers.check_not_locked(inst, r.ctx)
    offloaded = inst.vm_state == states.SHELVED_OFFLOADED and r.at_least("2.20")
    placed = inst.vm_state in _ATTACHABLE and inst.host
    if not (placed or offloaded) or inst.task_state is not None:
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
    if offloaded:
        reserved = await _attach_offloaded(r, inst, client, volume_id, body)
        return _json({"volumeAttachment": _view(r, inst, reserved)})
    attachment = await client.create_attachment(volume_id, inst.uuid)
    device = body.get("device") or _next_device(inst)
    try:
        item = await r.state.bus.call(
            conductor.agent(inst.host or ""),
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
    if inst.vm_state not in _DETACHABLE:
        raise errors.Conflict(
            f"Cannot 'detach_volume' instance {inst.uuid} while it is in vm_state {inst.vm_state}"
        )
    offloaded = inst.vm_state == states.SHELVED_OFFLOADED
    if inst.task_state is not None or not (inst.host or offloaded):
        raise errors.Conflict(
            f"Cannot 'detach_volume' instance {inst.uuid} while it is in task_state"
            f" {inst.task_state}"
        )
    if offloaded:  # no host has it: the attachment goes from here
        item = next(a for a in inst.attachments or [] if a["volume_id"] == volume_id)
        await bdm_volumes.detach_all(
            r.state.remote, r.bus_ctx, [{**item, "delete_on_termination": False}]
        )
        await _save_attachments(
            r, inst.uuid, lambda found: [a for a in found if a["volume_id"] != volume_id]
        )
        return Response(status_code=202)
    await r.state.bus.call(
        conductor.agent(inst.host or ""),
        "detach_volume",
        r.bus_ctx,
        instance_uuid=inst.uuid,
        volume_id=volume_id,
    )
    return Response(status_code=202)


@router.put("/servers/{server_id}/os-volume_attachments/{volume_id}")
async def update(
    server_id: str, volume_id: str, request: Request, r: Req = Depends(req)
) -> Response:
    """Before 2.85 a PUT only swaps the volume for another (`volume_swap`, for admins, which
    the block storage service calls while it migrates the volume); from 2.85 it may also
    change `delete_on_termination`, and swaps when `volumeId` differs from the path's."""
    body = (await json_body(request)).get("volumeAttachment")
    if not isinstance(body, dict) or not isinstance(body.get("volumeId"), str):
        raise errors.BadRequest("Invalid input: 'volumeAttachment' needs a 'volumeId'.")
    async with r.state.db.reader() as session:
        inst = await servers.get(session, r.ctx, server_id)
    new_id = body["volumeId"]
    only_swap = not r.at_least("2.85")
    if only_swap or new_id != volume_id:
        r.enforce(f"{RULE}:swap", {})  # the caller is the block storage service, any project
    else:
        r.enforce(f"{RULE}:update", {"project_id": inst.project_id})
    if not only_swap:
        await _update_fields(r, inst, volume_id, body)
    if only_swap or new_id != volume_id:
        await volume_swap.swap(r.state, r.ctx, inst, volume_id, new_id)
    return Response(status_code=202)


_FIELDS = {"volumeId", "delete_on_termination", "device", "id", "serverId", "tag"}


async def _update_fields(r: Req, inst: Instance, volume_id: str, body: dict[str, Any]) -> None:
    """2.85: `delete_on_termination` may change; the other fields must be what they are."""
    servers.check_not_locked(inst, r.ctx)
    found = [a for a in inst.attachments or [] if a["volume_id"] == volume_id]
    if not found:
        raise errors.NotFound(f"Volume {volume_id} is not attached to the instance {inst.uuid}.")
    if set(body) - _FIELDS:
        raise errors.BadRequest(
            f"Additional properties are not allowed ({', '.join(sorted(set(body) - _FIELDS))})"
        )
    fixed = {"id": volume_id, "serverId": inst.uuid, "device": found[0].get("device_name")}
    fixed["tag"] = found[0].get("tag")
    for key, value in fixed.items():
        if key in body and body[key] != value:
            raise errors.BadRequest(f"The {key} property is not mutable")
    if "delete_on_termination" not in body:
        return
    flag = body["delete_on_termination"]
    if not isinstance(flag, bool):
        raise errors.BadRequest(
            f"Invalid input for field/attribute delete_on_termination. Value: {flag}."
            f" {flag!r} is not of type 'boolean'"
        )
    async with r.state.db.session() as session:
        row = await servers.get(session, r.ctx, inst.uuid)
        row.attachments = [
            {**a, "delete_on_termination": flag} if a["volume_id"] == volume_id else a
            for a in row.attachments or []
        ]
