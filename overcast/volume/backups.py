"""Backups as the API side handles them: create (state and quota checks, the parent of an
incremental), restore into a volume, delete, and export/import of backup records."""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.volume import lookup, quotas
from overcast.volume.models.backups import Backup
from overcast.volume.models.volumes import Snapshot, Volume
from overcast.volume.state import VolumeState

CONTAINER = "volumebackups"


def not_found(backup_id: str) -> errors.NotFound:
    return errors.NotFound(f"Backup {backup_id} could not be found.")


async def get(session: AsyncSession, backup_id: str, project_id: str, admin: bool) -> Backup:
    return await lookup.owned(session, Backup, backup_id, project_id, admin, not_found)


async def has_dependents(session: AsyncSession, backup_id: str) -> bool:
    found = await session.scalar(
        select(Backup.id).where(Backup.parent_id == backup_id, Backup.deleted.is_(False))
    )
    return found is not None


async def create(
    state: VolumeState,
    session: AsyncSession,
    ctx: dict[str, Any],
    volume: Volume,
    *,
    name: str | None,
    description: str | None,
    container: str | None,
    incremental: bool,
    force: bool,
    snapshot: Snapshot | None,
    metadata: dict[str, str],
) -> Backup:
    allowed = ("available", "in-use") if force else ("available",)
    if snapshot is None and volume.status not in allowed:
        raise errors.BadRequest(
            f"Invalid volume: Volume to be backed up must be available or in-use, but the"
            f' current status is "{volume.status}".'
            if force
            else f"Invalid volume: Volume to be backed up must be available, but the current"
            f' status is "{volume.status}".'
        )
    if snapshot is not None and snapshot.status != "available":
        raise errors.BadRequest(f"Invalid snapshot: Snapshot {snapshot.id} is not available.")
    parent = None
    if incremental:
        parent = await session.scalar(
            select(Backup)
            .where(
                Backup.volume_id == volume.id,
                Backup.deleted.is_(False),
                Backup.status == "available",
            )
            .order_by(Backup.data_timestamp.desc(), Backup.created_at.desc())
            .limit(1)
        )
        if parent is None:
            raise errors.BadRequest(
                "Invalid backup: No backups available to do an incremental backup."
            )
    await quotas.reserve(
        session,
        state.settings.volume,
        volume.project_id,
        {"backups": 1, "backup_gigabytes": volume.size},
    )
    now = utcnow()
    backup = Backup(
        volume_id=volume.id,
        snapshot_id=snapshot.id if snapshot else None,
        project_id=volume.project_id,
        user_id=ctx["user_id"],
        name=name,
        description=description,
        status="creating",
        size=volume.size,
        container=container or CONTAINER,
        availability_zone=volume.availability_zone,
        is_incremental=parent is not None,
        parent_id=parent.id if parent else None,
        host=volume.backend,
        metadata_=metadata,
        manifest={},
        task={},
        data_timestamp=snapshot.created_at if snapshot else now,
        created_at=now,
    )
    session.add(backup)
    if snapshot is None:
        volume.previous_status = volume.status
        volume.status = "backing-up"
    await session.flush()
    return backup


async def start_delete(session: AsyncSession, backup: Backup, force: bool) -> None:
    if not force and backup.status not in ("available", "error"):
        raise errors.BadRequest(
            f"Invalid backup: Backup status must be available or error, but is {backup.status}."
        )
    if await has_dependents(session, backup.id):
        raise errors.BadRequest("Invalid backup: Incremental backups exist for this backup.")
    backup.status = "deleting"
    backup.updated_at = utcnow()


_RECORD = (
    "id",
    "volume_id",
    "snapshot_id",
    "name",
    "description",
    "size",
    "object_count",
    "container",
    "availability_zone",
    "is_incremental",
    "parent_id",
    "service",
    "host",
    "manifest",
    "project_id",
    "user_id",
)


# An exported record names its backup driver as Cinder names its own (clients and Tempest
# expect Cinder's `cinder.backup.drivers.` names); the `file` driver keeps backups as Cinder's
# POSIX driver does, files under a directory.
EXPORTED_SERVICES = {"file": "cinder.backup.drivers.posix.PosixBackupDriver"}


def _driver_of(exported: str) -> str:
    """The driver an exported service name means: Cinder's name, or the driver's own."""
    found = [name for name, cinder in EXPORTED_SERVICES.items() if exported == cinder]
    return found[0] if found else exported


def export_record(backup: Backup) -> dict[str, str]:
    data = {k: getattr(backup, k) for k in _RECORD}
    data["metadata"] = backup.metadata_
    url = base64.b64encode(json.dumps(data).encode()).decode()
    service = EXPORTED_SERVICES.get(backup.service, backup.service)
    return {"backup_service": service, "backup_url": url}


async def import_record(
    session: AsyncSession, service: str, url: str, project_id: str, user_id: str
) -> Backup:
    """A backup from an exported record, `creating` until an agent has found its objects
    in the backup store (`verify_backup`)."""
    try:
        data = json.loads(base64.b64decode(url.encode(), validate=True))
        assert isinstance(data, dict) and data.get("id") and isinstance(data.get("manifest"), dict)
    except (ValueError, AssertionError) as exc:
        raise errors.BadRequest("Invalid input received: The backup record is not valid.") from exc
    if _driver_of(service) != data.get("service", "file"):
        raise errors.BadRequest(f"Invalid input received: Unsupported backup service {service}.")
    found = await session.get(Backup, data["id"])
    if found is not None and not found.deleted:
        raise errors.BadRequest(f"Invalid backup: Backup {data['id']} already exists.")
    if found is not None:
        await session.delete(found)
        await session.flush()
    fields = {k: data.get(k) for k in _RECORD if k not in ("project_id", "user_id")}
    backup = Backup(
        **fields,
        project_id=project_id,
        user_id=user_id,
        metadata_=data.get("metadata") or {},
        status="creating",
        task={},
        created_at=utcnow(),
    )
    session.add(backup)
    await session.flush()
    return backup
