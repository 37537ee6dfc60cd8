"""Instances (servers), their tags and their migrations (resize, cold and live migration,
evacuation). The API writes them, the conductor and the agents move their states.

`vm_state`, `task_state` and `power_state` follow Nova's meanings (see `compute.states`).
The flavor is a snapshot taken at boot, so deleting a flavor never changes a server; its
sizes are also kept in plain columns, so that quota usage is one SQL sum on every database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from overcast.common.db.base import UTCDateTime, new_uuid, utcnow
from overcast.compute.models import Base

COUNTED = ("vcpus", "memory_mb", "root_gb")


def instance_name(instance_id: int) -> str:
    """The hypervisor-side name of the instance with this row id."""
    return f"instance-{instance_id:08x}"


class Instance(Base):
    __tablename__ = "compute_instance"
    __table_args__ = (
        Index("ix_compute_instance_project_deleted", "project_id", "deleted"),
        Index("ix_compute_instance_host_deleted", "host", "deleted"),
        Index("ix_compute_instance_updated_at", "updated_at"),
        Index("ix_compute_instance_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    display_name: Mapped[str] = mapped_column(String(255), default="")
    display_description: Mapped[str | None] = mapped_column(Text)
    hostname: Mapped[str] = mapped_column(String(255), default="")
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    image_ref: Mapped[str] = mapped_column(String(64), default="")
    flavor: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    old_flavor: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    new_flavor: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # What the instance counts against its project's quota (kept by `_count_flavors`).
    vcpus: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb: Mapped[int] = mapped_column(Integer, default=0)
    root_gb: Mapped[int] = mapped_column(Integer, default=0)
    vm_state: Mapped[str] = mapped_column(String(32), default="building")
    task_state: Mapped[str | None] = mapped_column(String(64))
    power_state: Mapped[int] = mapped_column(Integer, default=0)
    host: Mapped[str | None] = mapped_column(String(255))
    node: Mapped[str | None] = mapped_column(String(255))
    launched_on: Mapped[str | None] = mapped_column(String(255))
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    pinned_availability_zone: Mapped[str | None] = mapped_column(String(255))
    key_name: Mapped[str | None] = mapped_column(String(255))
    key_data: Mapped[str | None] = mapped_column(Text)
    user_data: Mapped[str | None] = mapped_column(Text)
    config_drive: Mapped[str] = mapped_column(String(16), default="")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    system_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    security_groups: Mapped[list[Any]] = mapped_column(JSON, default=list)
    requested_networks: Mapped[list[Any] | str | None] = mapped_column(JSON)
    addresses: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    network_info: Mapped[list[Any]] = mapped_column(JSON, default=list)
    attachments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    block_device_mapping: Mapped[list[Any]] = mapped_column(JSON, default=list)
    request_spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fault: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_by: Mapped[str | None] = mapped_column(String(16))
    locked_reason: Mapped[str | None] = mapped_column(String(255))
    reservation_id: Mapped[str] = mapped_column(String(32), default="")
    launch_index: Mapped[int] = mapped_column(Integer, default=0)
    access_ip_v4: Mapped[str | None] = mapped_column(String(64))
    access_ip_v6: Mapped[str | None] = mapped_column(String(64))
    progress: Mapped[int] = mapped_column(Integer, default=0)
    root_device_name: Mapped[str | None] = mapped_column(String(255))
    trusted_certs: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    launched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    terminated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)

    tags: Mapped[list[InstanceTag]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="InstanceTag.tag"
    )

    @validates("flavor", "new_flavor")
    def _count_flavors(self, key: str, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """Keep the counted sizes: the larger of the flavor and the flavor a resize is taking
        the instance to, from the resize request (which checks the quota) until it finishes.
        Only ORM assignments reach this: flavors must not be changed by bulk UPDATEs."""
        flavors = (value, self.new_flavor if key == "flavor" else self.flavor)
        for size in COUNTED:
            setattr(self, size, max(int((f or {}).get(size) or 0) for f in flavors))
        return value

    @property
    def name(self) -> str:
        """The hypervisor-side name, as Nova's instance_name_template writes it."""
        return instance_name(self.id)

    @property
    def tag_list(self) -> list[str]:
        return [t.tag for t in self.tags]


class InstanceTag(Base):
    __tablename__ = "compute_instance_tag"
    instance_uuid: Mapped[str] = mapped_column(
        ForeignKey("compute_instance.uuid", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(60), primary_key=True, index=True)


class Migration(Base):
    """One move of an instance between hosts (or a resize on the same host)."""

    __tablename__ = "compute_migration"
    __table_args__ = (UniqueConstraint("uuid"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), default=new_uuid)
    instance_uuid: Mapped[str] = mapped_column(String(36), index=True)
    migration_type: Mapped[str] = mapped_column(
        String(32)
    )  # resize migration live-migration evacuation
    status: Mapped[str] = mapped_column(String(32), default="pre-migrating")
    source_compute: Mapped[str | None] = mapped_column(String(255))
    source_node: Mapped[str | None] = mapped_column(String(255))
    dest_compute: Mapped[str | None] = mapped_column(String(255))
    dest_node: Mapped[str | None] = mapped_column(String(255))
    old_flavor_id: Mapped[str | None] = mapped_column(String(255))
    new_flavor_id: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(64))
    project_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
