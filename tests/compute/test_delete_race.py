"""A server deleted while the conductor places it: the API read it with no host and deletes it
where it is (its record) only if it still has none. Otherwise (the conductor placed it in
between, and cast its build there) the delete goes to that host, which has its port to drop:
deleting the record then left the port the build went on to make."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from overcast.common.db.session import Database
from overcast.compute import models
from overcast.compute.conductor import writes
from overcast.compute.models.instances import Instance


async def test_a_record_placed_since_it_was_read_is_not_destroyed(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'race.db'}")
    async with db.engine.begin() as conn:
        await conn.run_sync(models.Base.metadata.create_all)
    async with db.session() as session:
        session.add(Instance(uuid="placed", project_id="p", user_id="u", flavor={"vcpus": 1}))
        session.add(Instance(uuid="waiting", project_id="p", user_id="u", flavor={"vcpus": 1}))
    async with db.session() as session:  # the conductor's placement, after the API's read
        await writes.update_instance(session, "placed", {"host": "compute2", "node": "compute2"})
    async with db.session() as session:
        assert not await writes.destroy_record(session, "placed", on_host=None)
        assert await writes.destroy_record(session, "waiting", on_host=None)
        assert not await writes.destroy_record(session, "waiting", on_host=None)  # gone already
    async with db.reader() as session:
        rows = (await session.execute(select(Instance.uuid, Instance.deleted))).all()
    await db.close()
    assert sorted(rows) == [("placed", False), ("waiting", True)]
