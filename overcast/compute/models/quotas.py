"""Quota limits: per-project and per-user overrides and quota-class defaults. Usage is never
stored.

Usage is counted from what exists (instances, key pairs, server groups), as Nova's counting
quotas do, so it cannot drift. `ProjectLock` is one row per project that a quota check updates
first, so that two boots of one project check-and-create one after the other.
"""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from overcast.compute.models import Base


class Quota(Base):
    __tablename__ = "compute_quota"
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)


class UserQuota(Base):
    """A user's limits inside a project (Nova's `?user_id=`): at most the project's."""

    __tablename__ = "compute_user_quota"
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)


class QuotaClass(Base):
    __tablename__ = "compute_quota_class"
    class_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)


class ProjectLock(Base):
    __tablename__ = "compute_project_lock"
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
