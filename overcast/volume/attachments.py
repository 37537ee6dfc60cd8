"""Attachments of volumes to servers (the attachments API, 3.27+), as compute uses them:
create reserves the volume for an instance; update with the host's connector asks the volume's
agent for the connection info; complete marks the volume `in-use`; delete terminates the
connection and frees the volume when no attachment is left.

The agent is called between database sessions, never inside one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.db.base import new_uuid, utcnow
from overcast.volume import lookup, rpc
from overcast.volume.models.volumes import Attachment, Volume
from overcast.volume.state import VolumeState


def not_found(attachment_id: str) -> errors.NotFound:
    return errors.NotFound(f"VolumeAttachment {attachment_id} could not be found.")


async def get(
    session: AsyncSession, attachment_id: str, project_id: str, admin: bool
) -> Attachment:
    return await lookup.owned(session, Attachment, attachment_id, project_id, admin, not_found)


async def live(session: AsyncSession, volume_id: str, lock: bool = False) -> list[Attachment]:
    """The volume's attachments; `lock`: read as they are committed now, and held."""
    stmt = select(Attachment).where(
        Attachment.volume_id == volume_id, Attachment.deleted.is_(False)
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return list((await session.execute(stmt)).scalars())


async def reserve(
    session: AsyncSession, volume: Volume, instance_uuid: str | None, mode: str
) -> Attachment:
    """A new attachment in `reserved`; 400 when the volume cannot take one more. The server
    that holds the volume may hold a second attachment of it, as Cinder allows: a server that
    moves to another host keeps its own until it has moved, and the other is its new host's."""
    others = [a for a in await live(session, volume.id) if a.instance_uuid]
    moving = bool(others) and all(a.instance_uuid == instance_uuid for a in others)
    if volume.status == "in-use" or others:
        if not volume.multiattach and not moving:
            raise errors.BadRequest(
                f"Invalid volume: Volume {volume.id} is already attached and is not multiattach"
                f" (status {volume.status})."
            )
    elif volume.status not in ("available", "downloading", "reserved"):
        raise errors.BadRequest(
            f"Invalid volume: Volume {volume.id} status must be available or in-use to attach,"
            f" but the current status is {volume.status}."
        )
    attachment = Attachment(
        id=new_uuid(),
        volume_id=volume.id,
        project_id=volume.project_id,
        instance_uuid=instance_uuid,
        attach_status="reserved",
        attach_mode=mode,
        created_at=utcnow(),
    )
    session.add(attachment)
    if volume.status == "available":
        volume.status = "reserved"
    volume.updated_at = utcnow()
    return attachment


async def connect(
    state: VolumeState, ctx: dict[str, Any], attachment_id: str, connector: dict[str, Any]
) -> None:
    """Give the attachment its connection info for `connector` (the agent's answer)."""
    if not isinstance(connector, dict) or not connector:
        raise errors.BadRequest("Invalid input received: connector must be an object.")
    async with state.db.reader() as session:
        attachment = await session.get(Attachment, attachment_id)
        volume = await session.get(Volume, attachment.volume_id) if attachment else None
    if attachment is None or volume is None or volume.backend is None:
        raise not_found(attachment_id)
    info = await rpc.call_agent(
        state.bus,
        volume.backend,
        "initialize_connection",
        ctx,
        volume_id=volume.id,
        connector=connector,
    )
    readonly = str((volume.admin_metadata or {}).get("readonly", "False")) == "True"
    mode = "ro" if readonly else attachment.attach_mode
    info = {**info, "data": {**info.get("data", {}), "access_mode": mode}}
    async with state.db.session() as session:
        row = await session.get(Attachment, attachment_id)
        vol = await session.get(Volume, volume.id)
        if row is None or row.deleted or vol is None:
            raise not_found(attachment_id)
        row.connector = connector
        row.connection_info = {**info, "attachment_id": row.id}
        row.attached_host = connector.get("host")
        row.mountpoint = connector.get("mountpoint")
        row.attach_mode = mode
        row.attach_status = "attaching"
        row.updated_at = utcnow()
        if vol.status in ("reserved", "available"):
            vol.status = "attaching"
        vol.admin_metadata = {**vol.admin_metadata, "attached_mode": mode}


async def complete(session: AsyncSession, attachment: Attachment) -> None:
    volume = await session.get(Volume, attachment.volume_id)
    if volume is None:
        raise not_found(attachment.id)
    attachment.attach_status = "attached"
    attachment.attach_time = attachment.updated_at = utcnow()
    volume.status = "in-use"
    volume.attach_status = "attached"
    volume.updated_at = utcnow()


async def remove(
    state: VolumeState, ctx: dict[str, Any], attachment_id: str, project_id: str, admin: bool
) -> None:
    """Terminate the connection (when there is one) and drop the attachment."""
    async with state.db.reader() as session:
        attachment = await get(session, attachment_id, project_id, admin)
        volume = await session.get(Volume, attachment.volume_id)
    if attachment.connector and volume is not None and volume.backend:
        await rpc.call_agent(
            state.bus,
            volume.backend,
            "terminate_connection",
            ctx,
            volume_id=volume.id,
            connector=attachment.connector,
        )
    async with state.db.session() as session:
        row = await session.get(Attachment, attachment_id)
        if row is None or row.deleted:
            return
        await drop(session, row)


async def drop_all(session: AsyncSession, volume: Volume) -> None:
    """Forget every attachment of `volume` (an admin's reset to `detached`)."""
    for attachment in await live(session, volume.id):
        await drop(session, attachment)


async def drop(session: AsyncSession, attachment: Attachment) -> None:
    # The volume's row locked first, before the attachment's: two attachments of a volume
    # dropped at once (its two servers deleted together) then each see the other's drop, and
    # the last leaves the volume available.
    volume = await session.get(
        Volume, attachment.volume_id, with_for_update=True, populate_existing=True
    )
    attachment.deleted = True
    attachment.attach_status = "detached"
    attachment.detach_time = utcnow()
    if volume is None:
        return
    remaining = [a for a in await live(session, volume.id, lock=True) if a.id != attachment.id]
    attached = [a for a in remaining if a.attach_status == "attached"]
    volume.attach_status = "attached" if attached else "detached"
    if volume.status in ("in-use", "reserved", "attaching", "detaching"):
        volume.status = "in-use" if attached else ("reserved" if remaining else "available")
    if not attached:
        volume.admin_metadata = {
            k: v for k, v in (volume.admin_metadata or {}).items() if k != "attached_mode"
        }
    volume.updated_at = utcnow()


async def detach_all(
    state: VolumeState,
    ctx: dict[str, Any],
    session: AsyncSession,
    volume: Volume,
    attachment_id: str | None,
) -> None:
    """Admin force-detach: drop the volume's attachments (one, if given) without asking
    the hypervisor; connections are terminated by the agent afterwards."""
    for attachment in await live(session, volume.id):
        if attachment_id and attachment.id != attachment_id:
            continue
        if attachment.connector and volume.backend:
            await rpc.cast_agent(
                state.bus,
                volume.backend,
                "terminate_connection",
                ctx,
                volume_id=volume.id,
                connector=attachment.connector,
            )
        await drop(session, attachment)
    if volume.attach_status == "detached" and not await live(session, volume.id):
        volume.status = "available"  # a forced detach ends the volume's error state, as in Cinder
