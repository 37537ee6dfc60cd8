"""Volume types with their extra specs and access lists, QoS specs, encryption types and the
per-project default type (3.62)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from overcast.common.db.base import UTCDateTime, new_uuid, utcnow
from overcast.volume.models import Base

DEFAULT_TYPE = "__DEFAULT__"


class VolumeType(Base):
    __tablename__ = "volume_type"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    extra_specs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    qos_specs_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("volume_qos_specs.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class TypeAccess(Base):
    __tablename__ = "volume_type_access"
    __table_args__ = (UniqueConstraint("volume_type_id", "project_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    volume_type_id: Mapped[str] = mapped_column(String(36), ForeignKey("volume_type.id"))
    project_id: Mapped[str] = mapped_column(String(64))


class DefaultType(Base):
    """A project's own default volume type (`/v3/default-types`, 3.62)."""

    __tablename__ = "volume_default_type"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    volume_type_id: Mapped[str] = mapped_column(String(36), ForeignKey("volume_type.id"))


class QosSpecs(Base):
    __tablename__ = "volume_qos_specs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    consumer: Mapped[str] = mapped_column(String(16), default="back-end")
    specs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Encryption(Base):
    """A volume type's encryption, kept as data (no driver here encrypts)."""

    __tablename__ = "volume_type_encryption"

    volume_type_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("volume_type.id"), primary_key=True
    )
    encryption_id: Mapped[str] = mapped_column(String(36), default=new_uuid)
    provider: Mapped[str] = mapped_column(String(255))
    cipher: Mapped[str | None] = mapped_column(String(255))
    key_size: Mapped[int | None] = mapped_column(Integer)
    control_location: Mapped[str] = mapped_column(String(16), default="front-end")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
