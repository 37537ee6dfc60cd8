"""Assisted volume snapshots (Nova's `os-assisted-volume-snapshots`): a block storage driver
whose volumes are files that a hypervisor holds open (Cinder's NFS and other file drivers) asks
compute to snapshot an attached volume (a new qcow2 overlay `new_file` becomes the guest's
active file) or to delete such a snapshot (merge the overlay away). The API finds the server
holding the volume and casts to its host; the host's driver acts and tells the volume service
how it went with `os-update_snapshot_status`. Called by `api.assisted_snapshots`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, select

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.compute import conductor
from overcast.compute.models.instances import Instance
from overcast.compute.state import ComputeState


async def holder(st: ComputeState, volume_id: str) -> Instance:
    """The server the volume is attached to, ready for its host to act: on a host and in no
    task (Nova answers 400 for each, at this API)."""
    async with st.db.reader() as session:
        rows = await session.scalars(
            select(Instance).where(
                Instance.deleted.is_(False),
                cast(Instance.attachments, String).contains(volume_id),
            )
        )
        found = [i for i in rows if any(a.get("volume_id") == volume_id for a in i.attachments)]
    if not found:
        raise errors.BadRequest(f"No volume Block Device Mapping with id {volume_id}.")
    if len(found) > 1:
        raise errors.BadRequest(f"Volume {volume_id} is attached to more than one server.")
    inst = found[0]
    if not inst.host:
        raise errors.BadRequest(f"Instance {inst.uuid} is not ready: it has no compute host.")
    if inst.task_state is not None:
        raise errors.BadRequest(
            f"Cannot snapshot volume {volume_id} of instance {inst.uuid} while it is in"
            f" task_state {inst.task_state}"
        )
    return inst


async def create(
    st: ComputeState, ctx: RequestContext, volume_id: str, create_info: dict[str, Any]
) -> None:
    inst = await holder(st, volume_id)
    await _cast(st, ctx, inst, "volume_snapshot_create", volume_id, create_info=create_info)


async def delete(
    st: ComputeState,
    ctx: RequestContext,
    volume_id: str,
    snapshot_id: str,
    delete_info: dict[str, Any],
) -> None:
    inst = await holder(st, volume_id)
    if delete_info.get("merge_target_file") is not None and inst.vm_state != "active":
        # Merging into a file below the active one needs the guest running (Nova's answer).
        raise errors.BadRequest(
            f"Cannot delete snapshot {snapshot_id} of instance {inst.uuid} while it is in"
            f" vm_state {inst.vm_state}"
        )
    await _cast(
        st,
        ctx,
        inst,
        "volume_snapshot_delete",
        volume_id,
        snapshot_id=snapshot_id,
        delete_info=delete_info,
    )


async def _cast(
    st: ComputeState,
    ctx: RequestContext,
    inst: Instance,
    method: str,
    volume_id: str,
    **kwargs: Any,
) -> None:
    """Nova's cast to the host: the host reports the outcome to the volume service."""
    await st.bus.cast(
        conductor.agent(str(inst.host)),
        method,
        ctx.to_dict(),
        instance_uuid=inst.uuid,
        volume_id=volume_id,
        **kwargs,
    )
