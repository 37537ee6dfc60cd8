"""The object store's tables: accounts, containers and the object listings.

Swift keeps each container's listing in its own SQLite file, replicated by a container
replicator. Overcast keeps listings in the cloud's database instead: it is already durable and
shared by every node (PostgreSQL or MariaDB in a multi-node cloud), a listing is one indexed
range scan, and usage counters change in the same transaction as the rows they count. Object
*data* never goes here: it lives on the ring's devices. Rows carry the timestamp of the state
they record, so late updates (the updater replaying an async pending) never undo newer ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from overcast.common.db.base import make_base

if TYPE_CHECKING:

    class Base(DeclarativeBase): ...
else:
    Base = make_base("object_store")

# Names sort by their UTF-8 bytes, as Swift lists them.
Name = String(1024).with_variant(String(1024, collation="C"), "postgresql")
ShortName = String(256).with_variant(String(256, collation="C"), "postgresql")


class Account(Base):
    __tablename__ = "object_store_account"

    name: Mapped[str] = mapped_column(ShortName, primary_key=True)
    created_ts: Mapped[str] = mapped_column(String(20))
    put_ts: Mapped[str] = mapped_column(String(20))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Container(Base):
    __tablename__ = "object_store_container"
    __table_args__ = (UniqueConstraint("account", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(ShortName)
    name: Mapped[str] = mapped_column(ShortName)
    created_ts: Mapped[str] = mapped_column(String(20))
    put_ts: Mapped[str] = mapped_column(String(20))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    object_count: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_used: Mapped[int] = mapped_column(BigInteger, default=0)


class Object(Base):
    """One listing row; `deleted` rows are tombstones kept so that older updates lose."""

    __tablename__ = "object_store_object"

    container_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Name, primary_key=True)
    ts: Mapped[str] = mapped_column(String(20))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    content_type: Mapped[str] = mapped_column(String(256), default="")
    etag: Mapped[str] = mapped_column(String(64), default="")
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class Expiring(Base):
    """Objects with an `X-Delete-At`, for the expirer (Swift's `.expiring_objects`)."""

    __tablename__ = "object_store_expiring"
    __table_args__ = (Index("ix_object_store_expiring_at", "delete_at"),)

    account: Mapped[str] = mapped_column(ShortName, primary_key=True)
    container: Mapped[str] = mapped_column(ShortName, primary_key=True)
    name: Mapped[str] = mapped_column(Name, primary_key=True)
    delete_at: Mapped[int] = mapped_column(BigInteger, primary_key=True)
