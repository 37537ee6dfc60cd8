"""Declarative bases: one per service, each with its own MetaData and Alembic branch.

Every service's tables share one database; their names carry the service's prefix so that two
services never collide (`identity_user`, `image_image`, `compute_instance`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, TypeDecorator
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeEngine

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored naive in UTC and always read back timezone-aware.

    Microseconds are kept on every database: MySQL/MariaDB's plain DATETIME would round to
    the second (and, say, let a token issued in the second of its revocation slip through).
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        return value.replace(tzinfo=dt.UTC) if value is not None else None


def make_base(service: str) -> type[DeclarativeBase]:
    """A declarative base whose metadata holds only `service`'s tables."""

    class Base(DeclarativeBase):
        metadata = MetaData(naming_convention=NAMING, info={"service": service})
        type_annotation_map: dict[Any, Any] = {dict[str, Any]: JSON, list[Any]: JSON}

    Base.__name__ = f"{service.title()}Base"
    return Base


def new_id() -> str:
    """A fresh resource id as OpenStack writes them (32 hex digits for identity)."""
    return uuid.uuid4().hex


def new_uuid() -> str:
    """A fresh resource id in the dashed UUID form other services use."""
    return str(uuid.uuid4())


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def synced(session: Session | AsyncSession, stmt: Any) -> Any:
    """An ORM UPDATE or DELETE that brings the session's copies of its rows up to date only
    when the session holds rows of its table (SQLAlchemy's "auto"): with none held there is
    nothing to bring up to date, and evaluating the statement's criteria for them costs as
    much as running it."""
    held = holds_rows(session, stmt.entity_description["type"])
    return stmt.execution_options(synchronize_session="auto" if held else False)


def holds_rows(session: Session | AsyncSession, model: type[Any]) -> bool:
    """Whether the session holds rows of `model`: a plain statement on its table (cheaper than
    the ORM's) would leave them stale."""
    return any(isinstance(obj, model) for obj in session.identity_map.values())
