"""POST /v3/volumes/{id}/action: Cinder's volume actions (extend, bootable, read-only, image
metadata, upload to image, re-image, reset-status, force-delete, unmanage, force-detach), with
those of `attach_actions` (the legacy attach API) and `move_actions` (retype, migrate). Each
checks its policy and the volume's state, changes the row, and casts to the volume's agent
when the back end must act."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.common.http import bodies
from overcast.volume import quotas, volumes
from overcast.volume.api import attach_actions, move_actions, schemas, volume_images
from overcast.volume.api.actions import ACTIONS, OUTSIDE, action, after_commit, as_object, later
from overcast.volume.api.deps import Req, req
from overcast.volume.models.volumes import Volume
from overcast.volume.scheduler import pools

router = APIRouter(prefix="/v3")
_REGISTERED = (attach_actions, move_actions)  # their actions join ACTIONS on import


@router.post("/volumes/{volume_id}/action")
async def run(volume_id: str, request: Request, r: Req = Depends(req)) -> Response:
    body = await bodies.json_object(request)
    if len(body) != 1 or next(iter(body)) not in {*ACTIONS, *OUTSIDE, *volume_images.OWN_FLOW}:
        raise errors.BadRequest(
            f"Invalid input received: There is no such action: {', '.join(body) or 'none'}"
        )
    name, value = next(iter(body.items()))
    if name in volume_images.OWN_FLOW:
        return bodies.json_response(
            await volume_images.OWN_FLOW[name](r, volume_id, as_object(value, name)), 202
        )
    if name in OUTSIDE:
        answer = await OUTSIDE[name](r, volume_id, value)
        return Response(status_code=202) if answer is None else bodies.json_response(answer)
    async with r.state.db.session() as session:
        volume = await volumes.get(session, volume_id, r.project_id, r.ctx.is_admin)
        result = await ACTIONS[name](r, session, volume, value)
        volume.updated_at = utcnow()
    await after_commit(r, volume_id)
    if result is None:
        return Response(status_code=202)
    if isinstance(result, Response):
        return result
    return bodies.json_response(result)


@action("os-extend")
async def extend(r: Req, session: AsyncSession, volume: Volume, args: Any) -> None:
    new_size = schemas.size(as_object(args, "os-extend").get("new_size"), "new_size")
    assert new_size is not None
    attached = volume.status == "in-use"
    if attached:
        if not r.at_least("3.42"):
            volumes.require_status(volume, "available", action="extend")
        r.enforce("volume:extend_attached_volume", r.target(volume.project_id))
        await _check_online_extend(r, session, volume)
    else:
        r.enforce("volume:extend", r.target(volume.project_id))
        volumes.require_status(volume, "available", "in-use", action="extend")
    if new_size <= volume.size:
        raise errors.BadRequest(
            f"Invalid input received: New size for extend must be greater than current size."
            f" (current: {volume.size}, extended: {new_size})."
        )
    settings = r.state.settings.volume
    quotas.check_size(await quotas.limits(session, settings, volume.project_id), new_size)
    grow = new_size - volume.size
    await quotas.reserve(
        session,
        settings,
        volume.project_id,
        {"gigabytes": grow},
        {volume.volume_type_id: {"gigabytes": grow}},
    )
    volume.task = {"extend_from": volume.size, "then": volume.status}
    volume.size = new_size
    volume.status = "extending"
    later(r, "extend_volume", volume, new_size=new_size)


async def _check_online_extend(r: Req, session: AsyncSession, volume: Volume) -> None:
    """An attached volume grows only on a back end that says it can (`online_extend_support`)."""
    live = await pools.live(session, r.state.settings.volume.service_down_time)
    here = next((p for p in live if p.host == volume.host), None)
    if here is None or not here.capabilities.get("online_extend_support", False):
        raise errors.BadRequest(
            f"Invalid volume: Volume {volume.id} is attached and its back end cannot extend"
            " attached volumes; detach it first."
        )


@action("os-set_bootable")
async def set_bootable(r: Req, session: AsyncSession, volume: Volume, args: Any) -> Response:
    r.enforce("volume:update_bootable", r.target(volume.project_id))
    bootable = as_object(args, "os-set_bootable").get("bootable")
    if bootable is None:
        raise errors.BadRequest("Invalid input received: Must specify bootable")
    volume.bootable = schemas.boolean(bootable, "bootable")
    return Response(status_code=200)  # Cinder answers this one 200, without a body


@action("os-update_readonly_flag")
async def readonly(r: Req, session: AsyncSession, volume: Volume, args: Any) -> None:
    r.enforce("volume:update_readonly_flag", r.target(volume.project_id))
    flag = as_object(args, "os-update_readonly_flag").get("readonly")
    if flag is None:
        raise errors.BadRequest("Invalid input received: Must specify readonly")
    if volume.status == "maintenance":
        raise errors.BadRequest(f"Invalid volume: Volume {volume.id} is in maintenance.")
    volume.admin_metadata = {
        **volume.admin_metadata,
        "readonly": str(schemas.boolean(flag, "readonly")),
    }


@action("os-set_image_metadata")
async def set_image_metadata(r: Req, session: AsyncSession, volume: Volume, args: Any) -> Any:
    r.enforce("volume_extension:volume_image_metadata:set", r.target(volume.project_id))
    meta = schemas.metadata(as_object(args, "os-set_image_metadata").get("metadata"))
    volume.image_metadata = {**volume.image_metadata, **meta}
    return {"metadata": volume.image_metadata}


@action("os-unset_image_metadata")
async def unset_image_metadata(
    r: Req, session: AsyncSession, volume: Volume, args: Any
) -> Response:
    r.enforce("volume_extension:volume_image_metadata:remove", r.target(volume.project_id))
    key = as_object(args, "os-unset_image_metadata").get("key")
    if key not in (volume.image_metadata or {}):
        raise errors.NotFound(
            f"Glance metadata for volume {volume.id} with key {key} cannot be found."
        )
    volume.image_metadata = {k: v for k, v in volume.image_metadata.items() if k != key}
    return Response(status_code=200)


@action("os-show_image_metadata")
async def show_image_metadata(r: Req, session: AsyncSession, volume: Volume, args: Any) -> Any:
    r.enforce("volume_extension:volume_image_metadata:show", r.target(volume.project_id))
    return {"metadata": dict(volume.image_metadata or {})}


_STATUSES = (
    "available",
    "error",
    "creating",
    "deleting",
    "in-use",
    "attaching",
    "detaching",
    "error_deleting",
    "maintenance",
    "reserved",
    "error_extending",
    "extending",
    "uploading",
    "downloading",
    "backing-up",
    "restoring-backup",
    "error_restoring",
)


@action("os-reset_status")
async def reset_status(r: Req, session: AsyncSession, volume: Volume, args: Any) -> None:
    r.enforce("volume_extension:volume_admin_actions:reset_status", r.target(volume.project_id))
    args = as_object(args, "os-reset_status")
    if not any(k in args for k in ("status", "attach_status", "migration_status")):
        raise errors.BadRequest(
            "Must specify 'status', 'attach_status' or 'migration_status' for update."
        )
    if "status" in args:
        volume.status = schemas.choice(args["status"], "status", _STATUSES)
    if "attach_status" in args:
        volume.attach_status = schemas.choice(
            args["attach_status"], "attach_status", ("attached", "detached")
        )
    if "migration_status" in args:
        volume.migration_status = schemas.text(args["migration_status"], "migration_status")
    volume.task = {}


@action("os-force_delete")
async def force_delete(r: Req, session: AsyncSession, volume: Volume, args: Any) -> None:
    r.enforce("volume:force_delete", r.target(volume.project_id))
    if await volumes.start_delete(session, volume, force=True, cascade=False):
        later(r, "delete_volume", volume)


@action("os-unmanage")
async def unmanage(r: Req, session: AsyncSession, volume: Volume, args: Any) -> None:
    r.enforce("volume_extension:volume_unmanage", r.target(volume.project_id))
    volumes.require_status(volume, "available", "error", "error_deleting", action="unmanage")
    await volumes.start_delete(session, volume, force=False, cascade=False)
    volume.status = "unmanaging"
    later(r, "unmanage", volume)


@action("os-force_detach")
async def force_detach(r: Req, session: AsyncSession, volume: Volume, args: Any) -> None:
    from overcast.volume import attachments

    r.enforce("volume_extension:volume_admin_actions:force_detach", r.target(volume.project_id))
    attachment_id = as_object(args, "os-force_detach").get("attachment_id")
    await attachments.detach_all(r.state, r.bus_ctx, session, volume, attachment_id)


@action("revert")
async def revert(r: Req, session: AsyncSession, volume: Volume, args: Any) -> None:
    """3.40: back to the volume's latest snapshot, which must be available and of its size."""
    from sqlalchemy import select

    from overcast.volume.models.volumes import Snapshot

    if not r.at_least("3.40"):
        raise errors.BadRequest("Invalid input received: There is no such action: revert")
    r.enforce("volume:revert_to_snapshot", r.target(volume.project_id))
    snapshot_id = schemas.uuid_(
        as_object(args, "revert").get("snapshot_id"), "snapshot_id", nullable=False
    )
    volumes.require_status(volume, "available", action="revert")
    latest = await session.scalar(
        select(Snapshot)
        .where(Snapshot.volume_id == volume.id, Snapshot.deleted.is_(False))
        .order_by(Snapshot.created_at.desc())
        .limit(1)
    )
    if latest is None or latest.id != snapshot_id:
        raise errors.BadRequest(
            f"Invalid snapshot: Volume {volume.id} can only be reverted to its latest snapshot."
        )
    if latest.status != "available" or latest.volume_size != volume.size:
        raise errors.BadRequest(
            f"Invalid snapshot: Snapshot {snapshot_id} must be available and of the volume's size."
        )
    latest.status = "restoring"
    volume.status = "reverting"
    volume.task = {"revert_to": snapshot_id}
    later(r, "revert_to_snapshot", volume, snapshot_id=snapshot_id)


@action("os-extend_volume_completion")
async def extend_completion(r: Req, session: AsyncSession, volume: Volume, args: Any) -> None:
    """3.71: compute reports how extending an attached volume ended for the guest. Only an
    extend that waits for compute (its hypervisor grows the data, `agent.extend`) is still
    `extending` and takes it: an error puts the old size back."""
    if not r.at_least("3.71"):
        raise errors.BadRequest(
            "Invalid input received: There is no such action: os-extend_volume_completion"
        )
    r.enforce("volume:extend_attached_volume", r.target(volume.project_id))
    failed = schemas.boolean(
        as_object(args, "os-extend_volume_completion").get("error", False), "error"
    )
    volumes.require_status(volume, "extending", action="complete an extend")
    if failed:
        volume.size = int(volume.task.get("extend_from") or volume.size)
        volume.status = "error_extending"
    else:
        volume.status = str(volume.task.get("then") or "available")
    volume.task = {}
