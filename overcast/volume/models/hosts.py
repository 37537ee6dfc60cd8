"""The services of block storage (cinder-scheduler, cinder-volume per back end, cinder-backup)
with the capacity and capabilities each back end last reported, and user messages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from overcast.common.db.base import UTCDateTime, new_uuid, utcnow
from overcast.volume.models import Base


class Service(Base):
    __tablename__ = "volume_service"
    __table_args__ = (UniqueConstraint("host", "binary"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    host: Mapped[str] = mapped_column(String(255))  # node, or node@backend for cinder-volume
    binary: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(64))
    availability_zone: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(255))
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    # A back end's pools as its driver last reported them (name -> stats).
    capabilities: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_seen_up: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Message(Base):
    """A user-facing message about a failed asynchronous operation (`/v3/messages`)."""

    __tablename__ = "volume_message"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    request_id: Mapped[str | None] = mapped_column(String(255))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_uuid: Mapped[str | None] = mapped_column(String(36))
    action_id: Mapped[str] = mapped_column(String(8))
    detail_id: Mapped[str] = mapped_column(String(8))
    message_level: Mapped[str] = mapped_column(String(16), default="ERROR")
    extra: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    counter: Mapped[int] = mapped_column(Integer, default=1)
