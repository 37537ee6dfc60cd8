"""Volumes as the API side handles them: lookup with the caller's visibility, the create flow
up to the cast to the scheduler, delete, extend and the state checks of Cinder's actions.

Create runs as Cinder's API flow does: the request is validated and its sources checked
(type, zone, snapshot, source volume, image, backup); then, in one transaction, quota is
reserved (the project's lock row), the volume recorded in `creating` and the reservation
committed with it; then the scheduler is cast to. If the cast fails the volume goes to `error`
and stops counting against quota.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors, trace
from overcast.common.db.base import utcnow
from overcast.volume import groups, lookup, quotas, rpc
from overcast.volume import types as vtypes
from overcast.volume.models.backups import Backup
from overcast.volume.models.types import VolumeType
from overcast.volume.models.volumes import Snapshot, Volume
from overcast.volume.state import VolumeState

GiB = 1 << 30


def not_found(volume_id: str) -> errors.NotFound:
    return errors.NotFound(f"Volume {volume_id} could not be found.")


async def get(session: AsyncSession, volume_id: str, project_id: str | None, admin: bool) -> Volume:
    """The volume `volume_id` if the caller may see it (its project's, or any for admins)."""
    return await lookup.owned(session, Volume, volume_id, project_id, admin, not_found)


def require_status(volume: Volume, *allowed: str, action: str = "") -> None:
    if volume.status not in allowed:
        raise errors.BadRequest(
            f"Invalid volume: Volume {volume.id} status must be {' or '.join(allowed)}"
            f"{' to ' + action if action else ''}, but current status is: {volume.status}."
        )


@dataclass
class CreateSpec:
    """A validated create request (see `api.volume_schemas.create`)."""

    size: int | None
    name: str | None = None
    description: str | None = None
    volume_type: str | None = None
    availability_zone: str | None = None
    snapshot_id: str | None = None
    source_volid: str | None = None
    image_id: str | None = None
    backup_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    multiattach: bool = False
    group_id: str | None = None


async def zones(state: VolumeState, session: AsyncSession) -> set[str]:
    """The availability zones of the back ends (configured, or reported by services)."""
    from overcast.volume.models.hosts import Service

    found = set((await session.execute(select(Service.availability_zone).distinct())).scalars())
    settings = state.settings.volume
    for backend in settings.backends.values():
        found.add(backend.availability_zone or settings.default_availability_zone)
    return found


def _is_true(spec: str | None) -> bool:
    return bool(spec) and str(spec).lower().replace("<is>", "").strip() in ("true", "1")


async def create(state: VolumeState, ctx: dict[str, Any], spec: CreateSpec, admin: bool) -> Volume:
    """Validate, reserve, record, commit and cast (see the module docstring)."""
    project_id, user_id = ctx["project_id"], ctx["user_id"]
    settings = state.settings.volume
    # Ended by hand: a refusal raises before the trace is linked, so it is never recorded.
    validated = trace.span("request validated")
    image: dict[str, Any] | None = None
    if spec.image_id is not None:
        image = await _image(state, ctx, spec.image_id)
    # The checks read in a session of their own, so the write transaction (the project's quota
    # lock, the count, the insert) is as short as it can be.
    async with state.db.reader() as session:
        size = spec.size
        zone = spec.availability_zone
        source_type: VolumeType | None = None
        inherited: Volume | None = None  # a clone's or a snapshot's volume: its boot data
        if spec.snapshot_id is not None:
            snap = await session.get(Snapshot, spec.snapshot_id)
            if snap is None or snap.deleted or (not admin and snap.project_id != project_id):
                raise errors.NotFound(f"Snapshot {spec.snapshot_id} could not be found.")
            if snap.status != "available":
                raise errors.BadRequest(
                    "Invalid snapshot: Originating snapshot status must be one of 'available'"
                    " values"
                )
            size = size if size is not None else snap.volume_size
            if size < snap.volume_size:
                raise errors.BadRequest(
                    f"Invalid input received: Volume size '{size}'GB cannot be smaller than the"
                    f" snapshot size {snap.volume_size}GB. They must be >= original snapshot size."
                )
            origin = await session.get(Volume, snap.volume_id)
            zone = _same_zone(zone, origin)
            inherited = origin
            source_type = await session.get(VolumeType, snap.volume_type_id or "")
        if spec.source_volid is not None:
            origin = await get(session, spec.source_volid, project_id, admin)
            if origin.status not in ("available", "in-use"):
                raise errors.BadRequest(
                    f"Invalid volume: Unable to clone volumes that are in the {origin.status} state"
                )
            size = size if size is not None else origin.size
            if size < origin.size:
                raise errors.BadRequest(
                    "Invalid input received: Clones currently must be >= original volume size."
                )
            zone = _same_zone(zone, origin)
            inherited = origin
            source_type = await session.get(VolumeType, origin.volume_type_id)
        if spec.backup_id is not None:
            backup = await session.get(Backup, spec.backup_id)
            if backup is None or backup.deleted or (not admin and backup.project_id != project_id):
                raise errors.NotFound(f"Backup {spec.backup_id} could not be found.")
            if backup.status != "available":
                raise errors.BadRequest(
                    f"Invalid backup: Backup status must be available but is {backup.status}."
                )
            size = size if size is not None else backup.size
            if size < backup.size:
                raise errors.BadRequest(
                    f"Invalid input received: Volume size {size}GB cannot be smaller than the"
                    f" backup size {backup.size}GB."
                )
        if image is not None:
            needed = max(-(-int(image.get("size") or 0) // GiB), int(image.get("min_disk") or 0))
            size = size if size is not None else needed
            if size < needed:
                raise errors.BadRequest(
                    f"Invalid input received: Size of specified image {needed}GB is larger than"
                    f" volume size {size}GB."
                )
        if size is None:
            raise errors.BadRequest("Invalid input received: size is required.")
        if spec.volume_type is not None:
            vtype = await vtypes.get(session, spec.volume_type, project_id, admin)
        elif source_type is not None and not source_type.deleted:
            vtype = source_type
        else:
            vtype = await vtypes.default(session, project_id, settings.default_volume_type)
        if spec.group_id is not None:
            group = await groups.get(session, spec.group_id, project_id, admin)
            groups.check_volume_joins(group, vtype.id)
            zone = zone or group.availability_zone
        zone = zone or settings.default_availability_zone
        if spec.group_id is not None and zone != group.availability_zone:
            raise errors.BadRequest(
                "Invalid input received: Availability zone must be the same as the group's."
            )
        if zone not in await zones(state, session):
            raise errors.BadRequest(
                f"Invalid input received: Availability zone '{zone}' is invalid."
            )
        limits = await quotas.limits(session, settings, project_id)
        quotas.check_size(limits, size)
        multiattach = spec.multiattach or _is_true(vtype.extra_specs.get("multiattach"))
    validated.end()
    volume = Volume(
        project_id=project_id,
        user_id=user_id,
        name=spec.name,
        description=spec.description,
        size=size,
        status="creating",
        availability_zone=zone,
        volume_type_id=vtype.id,
        multiattach=multiattach,
        metadata_=dict(spec.metadata),
        snapshot_id=spec.snapshot_id,
        source_volid=spec.source_volid,
        image_id=spec.image_id,
        backup_id=spec.backup_id,
        group_id=spec.group_id,
        bootable=bool(image is not None) or bool(inherited and inherited.bootable),
        image_metadata=image_metadata(image)
        if image is not None
        else dict(inherited.image_metadata or {})
        if inherited is not None
        else {},
        attempted=[],
        task={},
        created_at=utcnow(),
    )
    async with state.db.session() as session:
        with trace.span("quota reserved", gigabytes=size):
            await quotas.reserve(
                session,
                settings,
                project_id,
                {"volumes": 1, "gigabytes": size},
                quotas.per_type("volumes", [(vtype.id, size)]),
                hard=limits,
            )
        with trace.span("record written"):
            session.add(volume)
            await session.flush()
        trace.link("volume", volume.id, "create", ctx.get("request_id"), project_id)
    try:
        await rpc.schedule_create(state.bus, ctx, volume.id)
    except errors.OvercastError:
        async with state.db.session() as session:
            found = await session.get(Volume, volume.id)
            if found is not None and found.status == "creating":
                found.status = "error"
                found.consumes_quota = False
        raise
    return volume


def _same_zone(asked: str | None, origin: Volume | None) -> str | None:
    if origin is None:
        return asked
    if asked is not None and asked != origin.availability_zone:
        raise errors.BadRequest(
            "Invalid input received: Availability zone must be the same as the source."
        )
    return origin.availability_zone


async def _image(state: VolumeState, ctx: dict[str, Any], image_id: str) -> dict[str, Any]:
    try:
        image = await state.images(ctx).get(image_id)
    except errors.NotFound as exc:
        raise errors.BadRequest(
            "Invalid image identifier or unable to access requested image."
        ) from exc
    if image.get("status") != "active":
        raise errors.BadRequest(f"Image {image_id} is not active.")
    return image


_IMAGE_KEYS = ("checksum", "container_format", "disk_format", "min_disk", "min_ram", "size")


def image_metadata(image: dict[str, Any]) -> dict[str, str]:
    """What Cinder keeps of the image a volume was made from (`volume_image_metadata`)."""
    from overcast.clients.image import properties

    out = {"image_id": image["id"], "image_name": image.get("name") or ""}
    out.update({k: str(image[k]) for k in _IMAGE_KEYS if image.get(k) is not None})
    out.update({k: str(v) for k, v in properties(image).items() if isinstance(v, str | int)})
    return out


_DELETABLE = ("available", "error", "error_restoring", "error_extending", "error_managing")


async def start_delete(
    session: AsyncSession, volume: Volume, *, force: bool, cascade: bool
) -> bool:
    """Check that `volume` may be deleted (400 in Cinder's words otherwise) and mark it, and
    with `cascade` its snapshots, `deleting`; it stops counting against quota at once.
    True when an agent must delete it from its back end (cast after the commit); a volume that
    never reached a back end is gone at once."""
    busy = volume.status in ("in-use", "attaching")
    if volume.attach_status == "attached" or (busy and not force):
        raise errors.BadRequest(
            f"Invalid volume: Volume {volume.id} is attached; detach it before deleting it."
        )
    if volume.migration_status not in (None, "", "success", "error"):
        raise errors.BadRequest(f"Invalid volume: Volume {volume.id} is migrating.")
    if not force and volume.status not in _DELETABLE:
        raise errors.BadRequest(
            f"Invalid volume: Volume status must be {' or '.join(_DELETABLE)}, but current"
            f" status is: {volume.status}."
        )
    snaps = list(
        (
            await session.execute(
                select(Snapshot).where(Snapshot.volume_id == volume.id, Snapshot.deleted.is_(False))
            )
        ).scalars()
    )
    if snaps and not cascade:
        raise errors.BadRequest(
            f"Invalid volume: Volume {volume.id} still has {len(snaps)} dependent snapshots."
        )
    for snap in snaps:
        if snap.status not in ("available", "error"):
            raise errors.BadRequest(
                f"Invalid volume: Snapshot {snap.id} is {snap.status}; it cannot be deleted now."
            )
        snap.status = "deleting"
        snap.consumes_quota = False
    volume.previous_status = volume.status
    volume.consumes_quota = False
    volume.updated_at = utcnow()
    if volume.host is None:
        volume.status = "deleted"
        volume.deleted = True
        volume.deleted_at = utcnow()
        return False
    volume.status = "deleting"
    return True
