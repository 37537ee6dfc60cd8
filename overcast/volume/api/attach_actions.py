"""The volume actions of Cinder's older attach API, which clients and test suites still use
beside `/v3/attachments`: os-reserve, os-unreserve, os-begin_detaching, os-roll_detaching,
os-attach, os-detach, and os-initialize_connection / os-terminate_connection (these two wait
for the agent, so they run outside the request's transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.db.base import new_uuid, utcnow
from overcast.volume import attachments, rpc, volumes
from overcast.volume.api import schemas
from overcast.volume.api.actions import action, as_object, outside
from overcast.volume.api.deps import Req
from overcast.volume.models.volumes import Attachment, Volume

RULE = "volume_extension:volume_actions:"


@action("os-reserve")
async def reserve(r: Req, session: AsyncSession, volume: Volume, value: Any) -> None:
    r.enforce(RULE + "reserve", r.target(volume.project_id))
    allowed = ("available", "in-use") if volume.multiattach else ("available",)
    volumes.require_status(volume, *allowed, action="reserve")
    volume.previous_status = volume.status
    volume.status = "attaching"


@action("os-unreserve")
async def unreserve(r: Req, session: AsyncSession, volume: Volume, value: Any) -> None:
    r.enforce(RULE + "unreserve", r.target(volume.project_id))
    if volume.status == "attaching":
        attached = [a for a in await attachments.live(session, volume.id)]
        volume.status = "in-use" if attached else "available"


@action("os-begin_detaching")
async def begin_detaching(r: Req, session: AsyncSession, volume: Volume, value: Any) -> None:
    r.enforce(RULE + "begin_detaching", r.target(volume.project_id))
    if volume.migration_status in ("starting", "migrating"):
        return  # compute swapping a migrating volume's disk: the migration stands for it
    if volume.status != "in-use" or volume.attach_status != "attached":
        raise errors.BadRequest(
            "Invalid volume: Unable to detach volume. Volume status must be 'in-use' and"
            " attach_status must be 'attached' to detach."
        )
    volume.status = "detaching"


@action("os-roll_detaching")
async def roll_detaching(r: Req, session: AsyncSession, volume: Volume, value: Any) -> None:
    r.enforce(RULE + "roll_detaching", r.target(volume.project_id))
    if volume.status == "detaching":
        volume.status = "in-use" if volume.attach_status == "attached" else "available"


@action("os-attach")
async def attach(r: Req, session: AsyncSession, volume: Volume, value: Any) -> None:
    r.enforce(RULE + "attach", r.target(volume.project_id))
    value = as_object(value, "os-attach")
    server = schemas.uuid_(value.get("instance_uuid"), "instance_uuid")
    host = schemas.text(value.get("host_name"), "host_name")
    if server is None and host is None:
        raise errors.BadRequest("Invalid request to attach volume to an invalid target")
    mountpoint = schemas.text(value.get("mountpoint"), "mountpoint", nullable=False)
    mode = schemas.choice(value.get("mode", "rw"), "mode", ("rw", "ro"))
    others = [
        a for a in await attachments.live(session, volume.id) if a.attach_status == "attached"
    ]
    if others and not volume.multiattach:
        raise errors.BadRequest(
            f"Invalid volume: Volume {volume.id} is already attached and is not multiattach."
        )
    if server and any(a.instance_uuid == server for a in others):
        raise errors.BadRequest(f"Invalid volume: Volume {volume.id} is already attached there.")
    if volume.status not in ("available", "attaching", "reserved", "in-use"):
        volumes.require_status(volume, "available", "attaching", action="attach")
    now = utcnow()
    session.add(
        Attachment(
            id=new_uuid(),
            volume_id=volume.id,
            project_id=volume.project_id,
            instance_uuid=server,
            attached_host=host,
            mountpoint=mountpoint,
            attach_status="attached",
            attach_mode=mode,
            attach_time=now,
            created_at=now,
        )
    )
    volume.status = "in-use"
    volume.attach_status = "attached"
    volume.admin_metadata = {**(volume.admin_metadata or {}), "attached_mode": mode}


@action("os-detach")
async def detach(r: Req, session: AsyncSession, volume: Volume, value: Any) -> None:
    r.enforce(RULE + "detach", r.target(volume.project_id))
    wanted = as_object(value or {}, "os-detach").get("attachment_id")
    found = [
        a for a in await attachments.live(session, volume.id) if wanted is None or a.id == wanted
    ]
    if wanted is not None and not found:
        raise errors.NotFound(f"Volume attachment {wanted} could not be found.")
    if not found:
        return  # nothing to detach: accepted, as Cinder does (its agent has nothing to do)
    if wanted is None and len(found) > 1:
        raise errors.BadRequest(
            f"Invalid volume: Volume {volume.id} has several attachments; name the one to"
            " detach (attachment_id)."
        )
    if volume.status == "in-use" or volume.status == "attaching":
        volume.status = "detaching"
    await attachments.drop(session, found[0])


async def _connection(r: Req, volume_id: str, value: Any, name: str) -> tuple[Volume, Any]:
    connector = as_object(value, name).get("connector")
    if not isinstance(connector, dict):
        raise errors.BadRequest("Invalid input received: Must specify 'connector'")
    async with r.state.db.reader() as session:
        volume = await volumes.get(session, volume_id, r.project_id, r.ctx.is_admin)
    if volume.backend is None:
        raise errors.BadRequest(f"Invalid volume: Volume {volume_id} is not on a back end yet.")
    return volume, connector


@outside("os-initialize_connection")
async def initialize(r: Req, volume_id: str, value: Any) -> dict[str, Any]:
    volume, connector = await _connection(r, volume_id, value, "os-initialize_connection")
    r.enforce(RULE + "initialize_connection", r.target(volume.project_id))
    info = await rpc.call_agent(
        r.state.bus,
        str(volume.backend),
        "initialize_connection",
        r.bus_ctx,
        volume_id=volume.id,
        connector=connector,
    )
    return {"connection_info": info}


@outside("os-terminate_connection")
async def terminate(r: Req, volume_id: str, value: Any) -> None:
    volume, connector = await _connection(r, volume_id, value, "os-terminate_connection")
    r.enforce(RULE + "terminate_connection", r.target(volume.project_id))
    await rpc.call_agent(
        r.state.bus,
        str(volume.backend),
        "terminate_connection",
        r.bus_ctx,
        volume_id=volume.id,
        connector=connector,
    )
