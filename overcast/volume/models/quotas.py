"""Block storage quotas: per-project overrides, quota classes, and the per-project lock row
that makes check-and-create atomic on every database."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from overcast.volume.models import Base


class Quota(Base):
    __tablename__ = "volume_quota"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(255), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)


class QuotaClass(Base):
    __tablename__ = "volume_quota_class"

    class_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource: Mapped[str] = mapped_column(String(255), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)


class ProjectLock(Base):
    """Bumped at the start of every quota check, so one project's checks run one at a time."""

    __tablename__ = "volume_project_lock"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
