"""How an asynchronous operation that failed ends, in one place: the resource in its error
state, its quota returned where Cinder returns it, and a user message saying what happened.
Called by the scheduler, the agents and the start-up reconciliation."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import trace
from overcast.common.db.base import utcnow
from overcast.volume import messages
from overcast.volume.models.backups import Backup
from overcast.volume.models.volumes import Snapshot, Volume


def volume_failed(
    session: AsyncSession,
    volume: Volume,
    *,
    action: str,
    detail: str,
    ctx: dict[str, Any] | None = None,
    status: str = "error",
    ttl: int = 2592000,
) -> None:
    """`volume` ends in `status`; a failed create stops counting against quota."""
    if volume.status == "creating":
        volume.consumes_quota = False
    volume.status = status
    volume.task = {}
    volume.updated_at = utcnow()
    text = f"{messages.ACTIONS.get(action, 'unknown')}: {messages.DETAILS.get(detail, '')}"
    trace.event(status, error=text)
    message(session, volume.project_id, "VOLUME", volume.id, action, detail, ctx, ttl)


def snapshot_failed(
    session: AsyncSession,
    snapshot: Snapshot,
    *,
    action: str,
    detail: str,
    ctx: dict[str, Any] | None = None,
    status: str = "error",
) -> None:
    if snapshot.status == "creating":
        snapshot.consumes_quota = False
    snapshot.status = status
    snapshot.updated_at = utcnow()
    message(session, snapshot.project_id, "SNAPSHOT", snapshot.id, action, detail, ctx)


def backup_failed(
    session: AsyncSession,
    backup: Backup,
    *,
    action: str,
    detail: str,
    reason: str,
    ctx: dict[str, Any] | None = None,
    status: str = "error",
) -> None:
    backup.status = status
    backup.fail_reason = reason[:1000]
    backup.task = {}
    backup.updated_at = utcnow()
    message(session, backup.project_id, "BACKUP", backup.id, action, detail, ctx)


def migration_failed(session: AsyncSession, volume: Volume, ctx: dict[str, Any] | None) -> None:
    """A migration ended without moving `volume`: back to the status it had, with a message."""
    volume.migration_status = "error"
    volume.status = str((volume.task or {}).get("then") or "available")
    volume.task = {}
    volume.updated_at = utcnow()
    message(
        session, volume.project_id, "VOLUME", volume.id, messages.MIGRATE, messages.UNKNOWN, ctx
    )


def message(
    session: AsyncSession,
    project_id: str,
    kind: str,
    resource_id: str,
    action: str,
    detail: str,
    ctx: dict[str, Any] | None,
    ttl: int = 2592000,
) -> None:
    messages.record(
        session,
        project_id=project_id,
        resource_type=kind,
        resource_id=resource_id,
        action=action,
        detail=detail,
        request_id=(ctx or {}).get("request_id"),
        ttl=ttl,
    )
