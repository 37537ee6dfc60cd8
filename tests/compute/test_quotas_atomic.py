"""Quota checks are atomic in the database: two boots racing for the last instance of a
project cannot both pass `quotas.reserve`, however their steps interleave."""

from __future__ import annotations

import asyncio
from pathlib import Path

from overcast.common.db.session import Database
from overcast.compute import models, quotas
from overcast.compute.models.instances import Instance


async def test_concurrent_reserves_cannot_both_pass(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'quota.db'}")
    async with db.engine.begin() as conn:
        await conn.run_sync(models.Base.metadata.create_all)
    async with db.session() as session:
        await quotas.update_project(session, "p", {"instances": 1})

    async def boot() -> None:
        async with db.session() as session:
            await quotas.reserve(session, "p", "u", {"instances": 1, "cores": 1})
            await asyncio.sleep(0.05)  # the window a racing check would slip through
            session.add(Instance(project_id="p", user_id="u", flavor={"vcpus": 1}))

    results = await asyncio.gather(boot(), boot(), return_exceptions=True)
    await db.close()
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "QuotaExceeded"]
