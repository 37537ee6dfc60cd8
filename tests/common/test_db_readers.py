"""`Database.reader()` on PostgreSQL: its statements run outside a transaction (no BEGIN and
ROLLBACK round trips), and a write in it is refused rather than committed at once; those of
`Database.each()` commit one by one."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from overcast.common.db.session import Database, WriteInReader
from tests.helpers import databases


class _Base(DeclarativeBase):
    pass


class Kept(_Base):
    __tablename__ = "kept"
    n: Mapped[int] = mapped_column(primary_key=True)


def test_readers_and_single_statements_run_outside_a_transaction() -> None:
    if not databases.reachable("postgresql"):
        pytest.skip("postgresql is not reachable on 127.0.0.1:5432")

    async def run(url: str) -> None:
        db = Database(url)
        try:
            async with db.session() as session:
                await session.execute(text("CREATE TABLE kept (n integer)"))
                await session.execute(text("INSERT INTO kept VALUES (1)"))
                raw = await (await session.connection()).get_raw_connection()
                assert raw.driver_connection.is_in_transaction()
            async with db.reader() as session:
                assert await session.scalar(text("SELECT count(*) FROM kept")) == 1
                raw = await (await session.connection()).get_raw_connection()
                assert not raw.driver_connection.is_in_transaction()
                with pytest.raises(WriteInReader):
                    await session.execute(text("INSERT INTO kept VALUES (2)"))
                kept = await session.get(Kept, 1)
                assert kept is not None
                kept.n = 100  # changed for a view: never flushed, dropped with the session
                assert await session.scalar(text("SELECT sum(n) FROM kept")) == 1
            async with db.session() as session:  # the pooled connection is transactional again
                await session.execute(text("INSERT INTO kept VALUES (3)"))
                raw = await (await session.connection()).get_raw_connection()
                assert raw.driver_connection.is_in_transaction()
            async with db.reader() as session:
                assert await session.scalar(text("SELECT sum(n) FROM kept")) == 4
            with pytest.raises(ZeroDivisionError):  # each statement of `each` commits alone
                async with db.each() as session:
                    await session.execute(text("INSERT INTO kept VALUES (5)"))
                    raw = await (await session.connection()).get_raw_connection()
                    assert not raw.driver_connection.is_in_transaction()
                    raise ZeroDivisionError
            async with db.reader() as session:
                assert await session.scalar(text("SELECT sum(n) FROM kept")) == 9
        finally:
            await db.close()

    with databases.fresh("postgresql") as url:
        asyncio.run(run(url))
