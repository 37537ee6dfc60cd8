"""The API side of moving a volume between back ends: the checks Cinder makes before a
migration (admins' `os-migrate_volume`, or a retype whose new type needs another back end
with `migration_policy=on-demand`) and the row's state while it runs. The scheduler then
picks the destination and the source's agent moves the data (`agent.migration`); for an
attached volume compute copies it and ends the migration with `complete`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.volume import attachments, outcomes, rpc, volumes
from overcast.volume.models.volumes import Attachment, Snapshot, Volume
from overcast.volume.state import VolumeState


async def start(
    session: AsyncSession,
    volume: Volume,
    *,
    retype_to: str | None = None,
    host: str | None = None,
    lock: bool = False,
) -> None:
    """Check that `volume` may move and mark it: `retyping` for a retype (`maintenance` with
    `lock`), `migration_status` `starting`. 400 in Cinder's words when it may not."""
    if volume.migration_status in ("starting", "migrating"):
        raise errors.BadRequest(f"Invalid volume: Volume {volume.id} is already being migrated.")
    if volume.status not in ("available", "in-use"):
        raise errors.BadRequest(
            f"Invalid volume: Volume {volume.id} status must be available or in-use to migrate,"
            f" but current status is: {volume.status}."
        )
    servers = await session.scalars(
        select(Attachment.instance_uuid).where(
            Attachment.volume_id == volume.id, Attachment.deleted.is_(False)
        )
    )
    if len(servers.all()) > 1:
        # Compute swaps one server's disk; a volume several servers write cannot move.
        raise errors.BadRequest(
            f"Invalid volume: Volume {volume.id} is attached to more than one server."
        )
    if volume.group_id:
        raise errors.BadRequest(
            f"Invalid volume: Volume {volume.id} is in group {volume.group_id}; remove it from"
            " the group first."
        )
    snap = await session.scalar(
        select(Snapshot.id).where(Snapshot.volume_id == volume.id, Snapshot.deleted.is_(False))
    )
    if snap is not None:
        raise errors.BadRequest(f"Invalid volume: Volume {volume.id} must not have snapshots.")
    if host is not None and host in (volume.host, volume.backend):
        raise errors.BadRequest(
            f"Invalid host: Destination host {host} must be different from the current host."
        )
    volume.task = {
        "then": volume.status,
        **({"retype_to": retype_to} if retype_to else {}),
        **({"migrate_host": host} if host else {}),
    }
    volume.migration_status = "starting"
    if retype_to:
        volume.status = "retyping"
    elif lock:
        volume.status = "maintenance"


def _mid_migration(volume: Volume, new: Volume) -> None:
    if volume.migration_status not in ("starting", "migrating"):
        raise errors.BadRequest("Invalid volume: Source volume not mid-migration.")
    if not new.migration_status:
        raise errors.BadRequest("Invalid volume: Destination volume not mid-migration.")
    expected = f"target:{volume.id}"
    if new.migration_status != expected:
        raise errors.BadRequest(
            f"Invalid volume: Destination has migration_status {new.migration_status},"
            f" expected {expected}."
        )


async def complete(
    state: VolumeState, ctx: dict[str, Any], volume_id: str, new_id: str, failed: bool
) -> str:
    """Cinder's `os-migrate_volume_completion`, which compute calls once it has swapped a
    server's disk from `volume_id` to `new_id` (or failed to). For a migration the volume
    takes the new one's place (back end, data) and keeps its id, which is returned: the id
    the server keeps (`save_volume_id`). Not mid-migration: the new volume's id."""
    async with state.db.reader() as session:
        volume = await volumes.get(session, volume_id, None, True)
        new = await volumes.get(session, new_id, None, True)
        if volume.migration_status not in ("starting", "migrating") and not new.migration_status:
            return new.id
        _mid_migration(volume, new)
        old = [a for a in await attachments.live(session, volume.id) if a.connector]
    if not failed:
        for attachment in old:  # the server has let go of the source: close its connection
            await rpc.call_agent(
                state.bus,
                str(volume.backend),
                "terminate_connection",
                ctx,
                volume_id=volume.id,
                connector=attachment.connector,
            )
    async with state.db.session() as session:
        volume = await volumes.get(session, volume_id, None, True)
        new = await volumes.get(session, new_id, None, True)
        _mid_migration(volume, new)
        if failed:
            outcomes.migration_failed(session, volume, ctx)
            for attachment in await attachments.live(session, new.id):
                await attachments.drop(session, attachment)
        else:
            await _trade(session, volume, new)
        new.status = "deleting"
        where = new.backend
    if where:
        await rpc.cast_agent(state.bus, where, "delete_volume", ctx, volume_id=new.id)
    return volume.id


async def _trade(session: AsyncSession, volume: Volume, new: Volume) -> None:
    """The volume takes the new one's back end, data and attachment; the new row takes the
    source's data, to be deleted with it."""
    now = utcnow()
    task = dict(volume.task or {})
    volume.host, new.host = new.host, volume.host
    volume.provider_location, new.provider_location = (
        new.provider_location,
        volume.provider_location,
    )
    data, new.name_id = new.name_id, volume.name_id or volume.id
    volume.name_id = None if data == volume.id else data
    if task.get("retype_to"):
        volume.volume_type_id = str(task["retype_to"])
    for attachment in await attachments.live(session, volume.id):
        attachment.deleted, attachment.attach_status = True, "detached"
        attachment.detach_time = now
    moved = await attachments.live(session, new.id)
    for attachment in moved:
        attachment.volume_id = volume.id
    attached = any(a.attach_status == "attached" for a in moved)
    volume.attach_status = "attached" if attached else "detached"
    volume.status = "in-use" if attached else "available"
    volume.migration_status = "success"
    volume.task = {}
    volume.updated_at = new.updated_at = now
    new.attach_status = "detached"
