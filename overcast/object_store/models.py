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

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeEngine

from overcast.common.db.base import make_base

if TYPE_CHECKING:

    class Base(DeclarativeBase): ...
else:
    Base = make_base("object_store")


class _FromHex(FunctionElement[Any]):
    """`UNHEX(x)` on MySQL and MariaDB, plain `x` elsewhere (see `Name`)."""

    inherit_cache = True
    name = "from_hex"


@compiles(_FromHex)
def _plain(element: _FromHex, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_FromHex, "mysql")
@compiles(_FromHex, "mariadb")
def _unhex(element: _FromHex, compiler: Any, **kw: Any) -> str:
    return f"UNHEX({compiler.process(element.clauses, **kw)})"


class _RawVarbinary(mysql.VARBINARY):
    """VARBINARY whose values pass through untouched (`Name` encodes and decodes them)."""

    def bind_processor(self, dialect: Dialect) -> None:
        return None

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


class Name(TypeDecorator[str]):
    """A name that compares and sorts by its UTF-8 bytes, as Swift lists names, on every
    database: SQLite's default collation already does; PostgreSQL with collation "C"; MySQL and
    MariaDB store it as VARBINARY (their text collations ignore case, and an index on 1024
    characters of utf8mb4 would be over their key length)."""

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(_RawVarbinary(self.length))
        if dialect.name == "postgresql":
            return dialect.type_descriptor(String(self.length, collation="C"))
        return dialect.type_descriptor(String(self.length))

    def bind_expression(self, bindvalue: Any) -> Any:
        return _FromHex(bindvalue)

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        # aiomysql cannot send bytes parameters: they travel as hex, UNHEX()ed by the server.
        if value is not None and dialect.name in ("mysql", "mariadb"):
            return value.encode("utf-8", "surrogateescape").hex()
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if isinstance(value, bytes | bytearray):
            return bytes(value).decode("utf-8", "surrogateescape")
        return value  # type: ignore[no-any-return]


def ShortName() -> Name:  # noqa: N802 - reads as a type in the columns below
    return Name(256)


class Account(Base):
    __tablename__ = "object_store_account"

    name: Mapped[str] = mapped_column(ShortName(), primary_key=True)
    created_ts: Mapped[str] = mapped_column(String(20))
    put_ts: Mapped[str] = mapped_column(String(20))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Container(Base):
    __tablename__ = "object_store_container"
    __table_args__ = (UniqueConstraint("account", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(ShortName())
    name: Mapped[str] = mapped_column(ShortName())
    created_ts: Mapped[str] = mapped_column(String(20))
    put_ts: Mapped[str] = mapped_column(String(20))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    object_count: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_used: Mapped[int] = mapped_column(BigInteger, default=0)


class Object(Base):
    """One listing row; `deleted` rows are tombstones kept so that older updates lose."""

    __tablename__ = "object_store_object"

    container_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Name(1024), primary_key=True)
    ts: Mapped[str] = mapped_column(String(20))
    # The newest change: `ts`, or a later POST's (container sync replays the object again).
    changed_ts: Mapped[str] = mapped_column(String(20), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    # A symlink's carries its target (`;symlink_path=`, see `listing.object_entry`).
    content_type: Mapped[str] = mapped_column(Text, default="")
    etag: Mapped[str] = mapped_column(String(64), default="")
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class Expiring(Base):
    """Objects with an `X-Delete-At`, for the expirer (Swift's `.expiring_objects`)."""

    __tablename__ = "object_store_expiring"
    __table_args__ = (Index("ix_object_store_expiring_at", "delete_at"),)

    account: Mapped[str] = mapped_column(ShortName(), primary_key=True)
    container: Mapped[str] = mapped_column(ShortName(), primary_key=True)
    name: Mapped[str] = mapped_column(Name(1024), primary_key=True)
    delete_at: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class SyncPoint(Base):
    """How far the syncer replayed a synced container's listing: the last change (by
    `Object.changed_ts`, then name) its target took (Swift keeps x_container_sync_point)."""

    __tablename__ = "object_store_sync_point"

    container_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(20), default="")
    name: Mapped[str] = mapped_column(Name(1024), default="")
