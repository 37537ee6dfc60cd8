"""Swapping a server's volume for another (Nova's swap volume, `PUT
/servers/{id}/os-volume_attachments/{volume_id}` with another `volumeId`), which only the block
storage service asks for, while it migrates an attached volume: the checks Nova makes, then the
old volume marked detaching and the new one reserved for the server, and the server's host
told to move the disk (`agent.volumes.swap_volume`, which completes the migration).

Called by `api.volume_attachments.update`; every refusal is Nova's status and changes nothing.
"""

from __future__ import annotations

from typing import Any

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.compute import conductor, records, servers, states
from overcast.compute.models.instances import Instance
from overcast.compute.state import ComputeState

_SWAPPABLE = (states.ACTIVE, states.PAUSED, states.RESIZED)


def _check_instance(inst: Instance, ctx: RequestContext) -> None:
    servers.check_not_locked(inst, ctx)
    if inst.vm_state not in _SWAPPABLE or inst.task_state is not None or not inst.host:
        raise errors.Conflict(
            f"Cannot 'swap_volume' instance {inst.uuid} while it is in vm_state {inst.vm_state}"
        )


def _check_volumes(inst: Instance, old: dict[str, Any], new: dict[str, Any]) -> None:
    if not any(a.get("volume_id") == old["id"] for a in inst.attachments or []):
        raise errors.NotFound(f"No volume Block Device Mapping with id {old['id']}.")
    servers_of_old = [a.get("server_id") for a in old.get("attachments") or []]
    if inst.uuid not in servers_of_old:
        raise errors.BadRequest("Invalid volume: Old volume is attached to a different instance.")
    if new.get("attachments") or new.get("status") == "in-use":
        raise errors.BadRequest("Invalid volume: New volume must be detached in order to swap.")
    if int(new.get("size") or 0) < int(old.get("size") or 0):
        raise errors.BadRequest("Invalid volume: New volume must be the same size or larger.")
    if old.get("multiattach") and len(servers_of_old) > 1:
        raise errors.BadRequest(
            f"Swapping multi-attach volumes with more than one read/write attachment is not"
            f" supported (volume {old['id']})."
        )


async def swap(
    st: ComputeState, ctx: RequestContext, inst: Instance, old_id: str, new_id: str
) -> None:
    client = st.remote.volume(ctx.to_dict())
    if client is None:
        raise errors.BadRequest("There is no volume service in this cloud.")
    try:
        old = await client.get_volume(old_id)
    except errors.NotFound as exc:
        raise errors.NotFound(f"Volume {old_id} could not be found.") from exc
    if not old.get("migration_status"):
        raise errors.Conflict(
            f"volume {old_id} is not migrating; this API should only be called by Cinder"
        )
    try:
        new = await client.get_volume(new_id)
    except errors.NotFound as exc:  # named in the body, not the path: 400, as Nova
        raise errors.BadRequest(f"Volume {new_id} could not be found.") from exc
    _check_instance(inst, ctx)
    _check_volumes(inst, old, new)
    try:
        await client.begin_detaching(old_id)
    except errors.BadRequest as exc:
        raise errors.BadRequest(f"Invalid volume: {exc.message}") from exc
    try:
        attachment = await client.create_attachment(new_id, inst.uuid)
    except (errors.BadRequest, errors.NotFound) as exc:
        await client.roll_detaching(old_id)
        raise errors.BadRequest(f"Invalid volume: {exc.message}") from exc
    try:
        async with st.db.session() as session:
            await records.start_action(session, ctx.to_dict(), inst.uuid, "swap_volume")
        await st.bus.cast(
            conductor.agent(str(inst.host)),
            "swap_volume",
            ctx.to_dict(),
            instance_uuid=inst.uuid,
            old_volume_id=old_id,
            new_volume_id=new_id,
            new_attachment_id=attachment["id"],
        )
    except Exception:
        await client.roll_detaching(old_id)
        await client.delete_attachment(attachment["id"])
        raise
