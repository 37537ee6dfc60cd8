"""Backups of volumes: full or incremental (a chain through `parent_id`), kept by a backup
driver under `container`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from overcast.common.db.base import UTCDateTime, new_uuid, utcnow
from overcast.volume.models import Base


class Backup(Base):
    __tablename__ = "volume_backup"
    __table_args__ = (Index("ix_volume_backup_project_deleted", "project_id", "deleted"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    volume_id: Mapped[str] = mapped_column(String(36), index=True)
    snapshot_id: Mapped[str | None] = mapped_column(String(36))
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), default="creating")
    size: Mapped[int] = mapped_column(Integer)
    object_count: Mapped[int] = mapped_column(Integer, default=0)
    container: Mapped[str | None] = mapped_column(String(255))
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    is_incremental: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_id: Mapped[str | None] = mapped_column(String(36))
    fail_reason: Mapped[str | None] = mapped_column(Text)
    service: Mapped[str] = mapped_column(String(255), default="file")  # the backup driver
    host: Mapped[str | None] = mapped_column(String(255))  # node@backend whose agent made it
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    # Per-chunk digests of what the backup holds, so an incremental knows what changed.
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    task: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    data_timestamp: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
