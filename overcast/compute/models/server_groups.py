"""Server groups and their members: the (anti-)affinity policies the scheduler enforces.

Written by `compute.server_groups` (the API and the boot path that adds members); read by the
scheduler through the request spec's `instance_group`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from overcast.common.db.base import UTCDateTime, new_uuid, utcnow
from overcast.compute.models import Base


class ServerGroup(Base):
    __tablename__ = "compute_server_group"
    uuid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    policy: Mapped[str] = mapped_column(String(32))
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list[ServerGroupMember]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ServerGroupMember.created_at"
    )

    @property
    def member_uuids(self) -> list[str]:
        return [m.instance_uuid for m in self.members]


class ServerGroupMember(Base):
    """An instance in a group; an instance belongs to at most one group."""

    __tablename__ = "compute_server_group_member"
    group_uuid: Mapped[str] = mapped_column(
        ForeignKey("compute_server_group.uuid", ondelete="CASCADE"), index=True
    )
    instance_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
