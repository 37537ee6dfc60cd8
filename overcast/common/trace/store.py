"""The kernel's trace tables and their queries.

A trace crosses services (a boot's spans come from compute, image, network and volume), so the
kernel keeps them, in its own tables and Alembic branch (`trace`, in common/trace/migrations):
`trace_span`, append-only, one row when a span starts and one when it ends (a reader streams
new rows by id); `trace_link`, which resource (a server, a volume, an image) and request a
trace belongs to, bounded per resource (the oldest traces are dropped with their spans); and
`trace_key`, the deployment's signing key. Written by `recorder`, read by `views`.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Table, Text, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from overcast.common.db.base import make_base
from overcast.common.db.session import Database

if TYPE_CHECKING:  # mypy cannot see through make_base's dynamic class

    class Base(DeclarativeBase): ...
else:
    Base = make_base("trace")
MIGRATIONS = Path(__file__).parent / "migrations"
_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only


class SpanRow(Base):
    __tablename__ = "trace_span"
    __table_args__ = (Index("ix_trace_span_trace", "trace_id", "id"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    trace_id: Mapped[str] = mapped_column(String(32))
    span_id: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[str | None] = mapped_column(String(16))
    phase: Mapped[str] = mapped_column(String(5))  # "start" | "end"
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    service: Mapped[str] = mapped_column(String(32))
    host: Mapped[str] = mapped_column(String(255))
    start_us: Mapped[int] = mapped_column(BigInteger)
    duration_us: Mapped[int | None] = mapped_column(BigInteger)
    info: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


class LinkRow(Base):
    __tablename__ = "trace_link"
    __table_args__ = (Index("ix_trace_link_resource", "resource_type", "resource_id", "id"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    trace_id: Mapped[str] = mapped_column(String(32), index=True)
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str | None] = mapped_column(String(64))
    created_us: Mapped[int] = mapped_column(BigInteger)


class KeyRow(Base):
    __tablename__ = "trace_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))


# The tables themselves, for the recorder's Core inserts.
SPANS = cast(Table, SpanRow.__table__)
LINKS = cast(Table, LinkRow.__table__)


async def upgrade(db: Database) -> None:
    from overcast.common.db import migrate

    await migrate.upgrade(db, "trace", MIGRATIONS)


async def signing_key(db: Database) -> str:
    """The deployment's key, made by the first unit that asks."""
    async with db.reader() as session:
        found = await session.scalar(select(KeyRow.key).where(KeyRow.id == 1))
    if found:
        return found
    try:
        async with db.session() as session:
            session.add(KeyRow(id=1, key=secrets.token_hex(32)))
    except IntegrityError:
        pass  # another unit made it first
    async with db.reader() as session:
        return str(await session.scalar(select(KeyRow.key).where(KeyRow.id == 1)))


async def prune(session: AsyncSession, resource_type: str, resource_id: str, keep: int) -> None:
    """Drop the resource's traces beyond the newest `keep`, and spans no trace links to."""
    dropped = (
        await session.execute(
            select(LinkRow.id, LinkRow.trace_id)
            .where(LinkRow.resource_type == resource_type, LinkRow.resource_id == resource_id)
            .order_by(LinkRow.id.desc())
            .offset(keep)
        )
    ).all()
    if not dropped:
        return
    await session.execute(delete(LinkRow).where(LinkRow.id.in_([r.id for r in dropped])))
    for trace_id in {r.trace_id for r in dropped}:
        if await session.scalar(select(LinkRow.id).where(LinkRow.trace_id == trace_id).limit(1)):
            continue
        await session.execute(delete(SpanRow).where(SpanRow.trace_id == trace_id))


async def drop_unlinked(session: AsyncSession, before_us: int) -> None:
    """Drop the spans, older than `before_us`, of traces no resource links to (requests a
    client asked to trace, which are read through OTLP rather than through a resource)."""
    linked = select(LinkRow.trace_id)
    await session.execute(
        delete(SpanRow).where(SpanRow.start_us < before_us, SpanRow.trace_id.not_in(linked))
    )


async def links(
    session: AsyncSession, resource_type: str, resource_id: str, request_id: str | None = None
) -> list[LinkRow]:
    """The resource's traces, newest first (one request's, with `request_id`)."""
    stmt = select(LinkRow).where(
        LinkRow.resource_type == resource_type, LinkRow.resource_id == resource_id
    )
    if request_id is not None:
        stmt = stmt.where(LinkRow.request_id == request_id)
    return list((await session.scalars(stmt.order_by(LinkRow.id.desc()))).all())


async def rows(session: AsyncSession, trace_id: str) -> list[SpanRow]:
    """The trace's span rows, in the order they were written."""
    stmt = select(SpanRow).where(SpanRow.trace_id == trace_id).order_by(SpanRow.id).limit(10000)
    return list((await session.scalars(stmt)).all())


async def unseen(session: AsyncSession, trace_id: str, seen: set[int]) -> list[SpanRow]:
    """The trace's rows not in `seen`. Processes commit their rows in their own order, so a
    row may appear below one already read: the ids are compared, not only the newest."""
    ids = (await session.scalars(select(SpanRow.id).where(SpanRow.trace_id == trace_id))).all()
    new = [i for i in ids if i not in seen]
    if not new:
        return []
    stmt = select(SpanRow).where(SpanRow.id.in_(new[:1000])).order_by(SpanRow.id)
    return list((await session.scalars(stmt)).all())
