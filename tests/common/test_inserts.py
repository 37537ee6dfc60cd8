"""`inserts.insert_row`: a new ORM object written by one plain INSERT with its column defaults,
then a loaded row of the session (a later change flushes as an update); a default only the
database knows is refused rather than left unloaded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Integer, String, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from overcast.common.db import inserts
from overcast.common.db.base import new_uuid
from overcast.common.db.session import Database


class _Base(DeclarativeBase):
    pass


class Thing(_Base):
    __tablename__ = "thing"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(20), default="")
    size: Mapped[int] = mapped_column(Integer, default=3)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str | None] = mapped_column(String(20))


class Stamped(_Base):
    __tablename__ = "stamped"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    made: Mapped[str] = mapped_column(String(20), server_default=text("'now'"))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    async with database.engine.begin() as connection:
        await connection.run_sync(_Base.metadata.create_all)
    yield database
    await database.close()


async def test_a_row_is_written_with_its_defaults_and_changes_later_as_an_update(
    db: Database,
) -> None:
    async with db.session() as session:
        row = await inserts.insert_row(session, Thing, name="a")
        assert (row.size, row.extra, row.note) == (3, {}, None) and len(row.id) == 36
        found = (
            await session.execute(select(Thing.name, Thing.size).where(Thing.id == row.id))
        ).one()
        assert tuple(found) == ("a", 3)
        row.size = 5  # the object is the session's: this flushes at commit
    async with db.reader() as session:
        again = await session.get(Thing, row.id)
        assert again is not None and (again.name, again.size, again.extra) == ("a", 5, {})


async def test_a_column_only_the_database_fills_must_be_given(db: Database) -> None:
    async with db.session() as session:
        with pytest.raises(ValueError, match="server default"):
            await inserts.insert_row(session, Stamped, id=1)
        with pytest.raises(TypeError, match="no column attribute"):
            await inserts.insert_row(session, Stamped, id=3, made="x", colour="red")
        await inserts.insert_row(session, Stamped, id=2, made="then")
    async with db.reader() as session:
        assert list(await session.scalars(select(Stamped.made))) == ["then"]
