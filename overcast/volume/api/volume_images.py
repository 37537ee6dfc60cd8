"""The volume actions that talk to the image service: `os-volume_upload_image` (the image is
created in the image service with the caller's token, then the agent writes the volume into it)
and `os-reimage` (3.68). The image service is asked before any database session opens."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.volume import rpc, volumes
from overcast.volume.api import schemas, views
from overcast.volume.api.deps import Req
from overcast.volume.models.types import VolumeType

_DISK_FORMATS = ("raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx", "ploop")
_CONTAINER_FORMATS = ("bare", "ovf", "ova", "docker", "compressed")
# Properties of the image a volume was made from that its uploaded image does not inherit.
_NOT_INHERITED = {
    "image_id",
    "image_name",
    "checksum",
    "size",
    "container_format",
    "disk_format",
    "min_disk",
    "min_ram",
    "owner",
    "os_hash_algo",
    "os_hash_value",
}


async def upload(r: Req, volume_id: str, args: dict[str, Any]) -> dict[str, Any]:
    force = schemas.boolean(args.get("force", False), "force")
    name = schemas.text(args.get("image_name"), "image_name", nullable=False)
    disk_format = schemas.choice(args.get("disk_format", "raw"), "disk_format", _DISK_FORMATS)
    container_format = schemas.choice(
        args.get("container_format", "bare"), "container_format", _CONTAINER_FORMATS
    )
    visibility = schemas.choice(
        args.get("visibility", "private"),
        "visibility",
        ("public", "private", "shared", "community"),
    )
    protected = schemas.boolean(args.get("protected", False), "protected")
    async with r.state.db.reader() as session:
        volume = await volumes.get(session, volume_id, r.project_id, r.ctx.is_admin)
        vtype = await session.get(VolumeType, volume.volume_type_id)
    r.enforce("volume_extension:volume_actions:upload_image", r.target(volume.project_id))
    if visibility == "public":
        r.enforce("volume_extension:volume_actions:upload_public", r.target(volume.project_id))
    allowed = ("available", "in-use") if force else ("available",)
    volumes.require_status(volume, *allowed, action="upload to image")
    inherited = {k: v for k, v in (volume.image_metadata or {}).items() if k not in _NOT_INHERITED}
    image = await r.state.images(r.bus_ctx).create(
        **inherited,
        name=name,
        disk_format=disk_format,
        container_format=container_format,
        visibility=visibility,
        protected=protected,
        min_disk=volume.size,
    )
    async with r.state.db.session() as session:
        row = await volumes.get(session, volume_id, r.project_id, r.ctx.is_admin)
        if row.status not in allowed:
            await r.state.images(r.bus_ctx).delete(image["id"])
            volumes.require_status(row, *allowed, action="upload to image")
        row.task = {"then": row.status, "image_id": image["id"]}
        row.status = "uploading"
        row.updated_at = utcnow()
        backend = row.backend
    if backend:
        await rpc.cast_agent(
            r.state.bus,
            backend,
            "upload_to_image",
            r.bus_ctx,
            volume_id=volume_id,
            image_id=image["id"],
            disk_format=disk_format,
        )
    return {
        "os-volume_upload_image": {
            "id": volume_id,
            "updated_at": views.ts(row.updated_at),
            "status": "uploading",
            "display_description": volume.description,
            "size": volume.size,
            "volume_type": {"id": vtype.id, "name": vtype.name} if vtype else None,
            "image_id": image["id"],
            "container_format": container_format,
            "disk_format": disk_format,
            "image_name": name,
            "visibility": visibility,
            "protected": protected,
        }
    }


async def reimage(r: Req, volume_id: str, args: dict[str, Any]) -> dict[str, Any]:
    if not r.at_least("3.68"):
        raise errors.BadRequest("Invalid input received: There is no such action: os-reimage")
    image_id = schemas.uuid_(args.get("image_id"), "image_id", nullable=False)
    reserved = schemas.boolean(args.get("reimage_reserved", False), "reimage_reserved")
    image = await r.state.images(r.bus_ctx).get(str(image_id))
    async with r.state.db.session() as session:
        volume = await volumes.get(session, volume_id, r.project_id, r.ctx.is_admin)
        r.enforce("volume:reimage", r.target(volume.project_id))
        allowed = ("available", "error", "reserved") if reserved else ("available", "error")
        volumes.require_status(volume, *allowed, action="re-image")
        if int(image.get("size") or 0) > volume.size << 30:
            raise errors.BadRequest(
                f"Invalid input received: the image is larger than the volume ({volume.size}GB)."
            )
        volume.task = {
            "then": "available" if volume.status == "error" else volume.status,
            "image_metadata": volumes.image_metadata(image),
        }
        volume.status = "downloading"
        backend = volume.backend
    if backend:
        await rpc.cast_agent(
            r.state.bus, backend, "reimage", r.bus_ctx, volume_id=volume_id, image_id=image_id
        )
    return {}


OWN_FLOW: dict[str, Callable[[Req, str, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "os-volume_upload_image": upload,
    "os-reimage": reimage,
}
