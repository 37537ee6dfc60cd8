"""Generic volume groups as the API side handles them (Cinder 3.13+): group types, and groups
(create, membership, delete) with Cinder's checks and words. A group lives on one back end,
chosen by the scheduler; its volumes are made there. Snapshots of groups and groups made from
a source are in `group_snapshots`. Called by `api.group_types`, `api.groups` and `volumes`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.volume import lookup, quotas
from overcast.volume import types as vtypes
from overcast.volume.models.groups import Group, GroupSnapshot, GroupType
from overcast.volume.models.volumes import Snapshot, Volume
from overcast.volume.state import VolumeState

STATUSES = ("available", "error", "creating", "deleting", "updating", "error_deleting")
_VOLUME_OK = ("available", "in-use")


# -- group types ---------------------------------------------------------------------------


async def get_type(
    session: AsyncSession, ref: str, admin: bool, *, by_name: bool = True
) -> GroupType:
    """The group type with id `ref` (or named `ref`); non-admins see public types only."""
    clauses: list[Any] = [GroupType.deleted.is_(False)]
    if not admin:
        clauses.append(GroupType.is_public.is_(True))
    found = await session.scalar(select(GroupType).where(GroupType.id == ref, *clauses))
    if found is None and by_name:
        found = await session.scalar(select(GroupType).where(GroupType.name == ref, *clauses))
    if found is None:
        raise errors.NotFound(f"Group type with id {ref} could not be found.")
    return found


async def check_type_name_free(
    session: AsyncSession, name: str, except_id: str | None = None
) -> None:
    found = await session.scalar(
        select(GroupType.id).where(GroupType.name == name, GroupType.deleted.is_(False))
    )
    if found is not None and found != except_id:
        raise errors.Conflict(f"Group Type {name} already exists.")


async def delete_type(session: AsyncSession, gtype: GroupType) -> None:
    in_use = await session.scalar(
        select(Group.id).where(Group.group_type_id == gtype.id, Group.deleted.is_(False))
    )
    if in_use is not None:
        raise errors.BadRequest(
            f"Group Type {gtype.id} deletion is not allowed with groups present with the type."
        )
    gtype.deleted = True
    gtype.deleted_at = utcnow()


# -- groups --------------------------------------------------------------------------------


def not_found(group_id: str) -> errors.NotFound:
    return errors.NotFound(f"Group {group_id} could not be found.")


async def get(session: AsyncSession, group_id: str, project_id: str, admin: bool) -> Group:
    return await lookup.owned(session, Group, group_id, project_id, admin, not_found)


async def members(session: AsyncSession, group_id: str) -> list[Volume]:
    rows = await session.execute(
        select(Volume).where(Volume.group_id == group_id, Volume.deleted.is_(False))
    )
    return list(rows.scalars())


async def create(
    state: VolumeState,
    session: AsyncSession,
    ctx: dict[str, Any],
    admin: bool,
    *,
    name: str | None,
    description: str | None,
    group_type: str,
    volume_types: list[str],
    availability_zone: str | None,
) -> Group:
    """Record a group in `creating` (counted against the `groups` quota); the caller casts
    to the scheduler, which picks a back end that can hold every one of its volume types."""
    from overcast.volume import volumes

    project_id = ctx["project_id"]
    gtype = await get_type(session, group_type, admin)
    type_ids: list[str] = []
    for ref in volume_types:
        vtype = await vtypes.get(session, ref, project_id, admin)
        if vtype.id not in type_ids:
            type_ids.append(vtype.id)
    zone = availability_zone or state.settings.volume.default_availability_zone
    if zone not in await volumes.zones(state, session):
        raise errors.BadRequest(f"Invalid input received: Availability zone '{zone}' is invalid.")
    await quotas.reserve(session, state.settings.volume, project_id, {"groups": 1})
    group = Group(
        project_id=project_id,
        user_id=ctx["user_id"],
        name=name,
        description=description,
        status="creating",
        availability_zone=zone,
        group_type_id=gtype.id,
        volume_type_ids=type_ids,
        created_at=utcnow(),
    )
    session.add(group)
    await session.flush()
    return group


def check_volume_joins(group: Group, volume_type_id: str) -> None:
    """What a volume of type `volume_type_id` made in `group` must satisfy."""
    if group.status != "available":
        raise errors.BadRequest(
            f"Invalid group: Group {group.id} status must be available, but current status is:"
            f" {group.status}."
        )
    if volume_type_id not in (group.volume_type_ids or []):
        raise errors.BadRequest(
            f"Invalid volume type: Volume type {volume_type_id} is not supported by"
            f" group {group.id}."
        )


async def update(
    session: AsyncSession,
    group: Group,
    *,
    name: str | None,
    description: str | None,
    add: list[str],
    remove: list[str],
    changes: set[str],
) -> None:
    """Rename, and add or remove volumes (Cinder's add_volumes/remove_volumes, comma lists)."""
    if (add or remove) and group.status != "available":
        raise errors.BadRequest(
            f"Invalid group: Group {group.id} status must be available to update its volumes,"
            f" but current status is: {group.status}."
        )
    for volume_id in add:
        volume = await session.get(Volume, volume_id)
        if volume is None or volume.deleted or volume.project_id != group.project_id:
            raise errors.BadRequest(
                f"Invalid volume: Cannot add volume {volume_id} to group {group.id} because"
                " volume cannot be found."
            )
        if volume.group_id == group.id:
            continue
        if volume.group_id:
            raise errors.BadRequest(
                f"Invalid volume: Volume {volume_id} is already in a group ({volume.group_id})."
            )
        if volume.status not in _VOLUME_OK:
            raise errors.BadRequest(
                f"Invalid volume: Cannot add volume {volume_id} to group {group.id} because"
                f" volume is in an invalid state: {volume.status}. Valid states are:"
                f" {_VOLUME_OK}."
            )
        if volume.volume_type_id not in (group.volume_type_ids or []):
            raise errors.BadRequest(
                f"Invalid volume: Cannot add volume {volume_id} to group {group.id} because"
                f" volume type {volume.volume_type_id} is not supported by the group."
            )
        if volume.backend != group.backend:
            raise errors.BadRequest(
                f"Invalid volume: Volume {volume_id} is not on the group's back end"
                f" ({group.backend}) and cannot be added to group {group.id}."
            )
        volume.group_id = group.id
    for volume_id in remove:
        volume = await session.get(Volume, volume_id)
        if volume is None or volume.deleted or volume.group_id != group.id:
            raise errors.BadRequest(
                f"Invalid volume: Cannot remove volume {volume_id} from group {group.id} because"
                " it is not in the group."
            )
        if volume.status not in (*_VOLUME_OK, "error", "error_deleting"):
            raise errors.BadRequest(
                f"Invalid volume: Cannot remove volume {volume_id} from group {group.id} because"
                f" volume is in an invalid state: {volume.status}."
            )
        volume.group_id = None
    if "name" in changes:
        group.name = name
    if "description" in changes:
        group.description = description
    group.updated_at = utcnow()


async def start_delete(session: AsyncSession, group: Group, delete_volumes: bool) -> bool:
    """Mark the group (and with `delete_volumes` its volumes) `deleting`; True when its back
    end's agent must delete them. 400 in Cinder's words when the group may not go."""
    if not delete_volumes and group.status not in ("available", "error"):
        raise errors.BadRequest(
            f"Invalid group: Group status must be available or error, but current status is:"
            f" {group.status}"
        )
    snaps = await session.scalar(
        select(func.count(GroupSnapshot.id)).where(
            GroupSnapshot.group_id == group.id, GroupSnapshot.deleted.is_(False)
        )
    )
    if snaps:
        raise errors.BadRequest(f"Invalid group: Group {group.id} has existing snapshots.")
    vols = await members(session, group.id)
    if vols and not delete_volumes:
        raise errors.BadRequest(
            f"Invalid group: Group {group.id} still contains volumes. The delete-volumes flag"
            " is required to delete it."
        )
    for volume in vols:
        if volume.attach_status == "attached" or volume.status in ("in-use", "attaching"):
            raise errors.BadRequest(f"Invalid volume: Volume {volume.id} in group is attached.")
        if volume.status not in ("available", "error", "error_deleting", "error_extending"):
            raise errors.BadRequest(
                f"Invalid volume: Volume {volume.id} in group is {volume.status}."
            )
    if vols:
        own = await session.scalar(
            select(Snapshot.id).where(
                Snapshot.volume_id.in_([v.id for v in vols]),
                Snapshot.deleted.is_(False),
                or_(Snapshot.group_snapshot_id.is_(None), Snapshot.group_snapshot_id == ""),
            )
        )
        if own is not None:
            raise errors.BadRequest(
                f"Invalid volume: A volume of group {group.id} has snapshots; delete them first."
            )
    now = utcnow()
    for volume in vols:
        volume.previous_status = volume.status
        volume.status = "deleting"
        volume.consumes_quota = False
        volume.updated_at = now
    group.updated_at = now
    if group.host is None and not vols:
        group.status, group.deleted, group.deleted_at = "deleted", True, now
        return False
    group.status = "deleting"
    return True
