"""Volumes, their attachments and snapshots.

`host` is where a volume lives, as Cinder writes it: `node@backend#pool`. `consumes_quota` is
whether the volume counts against its project's quota: a volume whose creation failed stops
counting (its quota is returned), as do volumes being deleted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from overcast.common.db.base import UTCDateTime, new_uuid, utcnow
from overcast.volume.models import Base


class Volume(Base):
    __tablename__ = "volume_volume"
    __table_args__ = (
        Index("ix_volume_volume_project_deleted", "project_id", "deleted"),
        Index("ix_volume_volume_host_status", "host", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), default="creating")
    previous_status: Mapped[str | None] = mapped_column(String(32))
    attach_status: Mapped[str] = mapped_column(String(32), default="detached")
    migration_status: Mapped[str | None] = mapped_column(String(255))  # `target:<id>` too
    availability_zone: Mapped[str] = mapped_column(String(255))
    volume_type_id: Mapped[str] = mapped_column(String(36), ForeignKey("volume_type.id"))
    host: Mapped[str | None] = mapped_column(String(255))
    bootable: Mapped[bool] = mapped_column(Boolean, default=False)
    multiattach: Mapped[bool] = mapped_column(Boolean, default=False)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    admin_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    image_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    snapshot_id: Mapped[str | None] = mapped_column(String(36))
    source_volid: Mapped[str | None] = mapped_column(String(36))
    image_id: Mapped[str | None] = mapped_column(String(36))
    backup_id: Mapped[str | None] = mapped_column(String(36))
    provider_location: Mapped[str | None] = mapped_column(String(1024))
    provider_id: Mapped[str | None] = mapped_column(String(255))
    # Whose data the back end holds under this volume's name (Cinder's `_name_id`): set on
    # the temporary volume of an attached volume's migration, which names the data after the
    # volume it becomes, so that once they trade places the volume keeps its own data name.
    name_id: Mapped[str | None] = mapped_column(String(36))
    consumes_quota: Mapped[bool] = mapped_column(Boolean, default=True)
    # The back ends a create already failed on (the scheduler skips them when it retries).
    attempted: Mapped[list[Any]] = mapped_column(JSON, default=list)
    service_uuid: Mapped[str | None] = mapped_column(String(36))
    encryption_key_id: Mapped[str | None] = mapped_column(String(36))
    group_id: Mapped[str | None] = mapped_column(String(36), index=True)
    # What an operation in progress needs after a restart (e.g. {"extend_from": 1}).
    task: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    launched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    terminated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def backend(self) -> str | None:
        """`node@backend` of `host` (the agent that serves it)."""
        return self.host.partition("#")[0] if self.host else None


class Attachment(Base):
    """One attachment of a volume to a server (Cinder's attachments API, 3.27+)."""

    __tablename__ = "volume_attachment"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    volume_id: Mapped[str] = mapped_column(String(36), ForeignKey("volume_volume.id"), index=True)
    project_id: Mapped[str] = mapped_column(String(64))
    instance_uuid: Mapped[str | None] = mapped_column(String(36), index=True)
    attached_host: Mapped[str | None] = mapped_column(String(255))
    mountpoint: Mapped[str | None] = mapped_column(String(255))
    attach_status: Mapped[str] = mapped_column(String(32), default="reserved")
    attach_mode: Mapped[str] = mapped_column(String(8), default="rw")
    connector: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    connection_info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attach_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    detach_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class Snapshot(Base):
    __tablename__ = "volume_snapshot"
    __table_args__ = (Index("ix_volume_snapshot_project_deleted", "project_id", "deleted"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    volume_id: Mapped[str] = mapped_column(String(36), ForeignKey("volume_volume.id"), index=True)
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), default="creating")
    progress: Mapped[str] = mapped_column(String(16), default="0%")
    volume_size: Mapped[int] = mapped_column(Integer)
    volume_type_id: Mapped[str | None] = mapped_column(String(36))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    provider_location: Mapped[str | None] = mapped_column(String(1024))
    consumes_quota: Mapped[bool] = mapped_column(Boolean, default=True)
    group_snapshot_id: Mapped[str | None] = mapped_column(String(36), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
