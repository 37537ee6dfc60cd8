"""Quota checks are atomic in the database: two boots racing for the last instance of a
project, or two resizes for its last cores, cannot both pass `quotas.reserve`, however their
steps interleave; nor two batches of boots, each counting the project once for its boots."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from overcast.common.context import RequestContext
from overcast.common.db.session import Database
from overcast.compute import models, quotas, server_actions
from overcast.compute.models.instances import Instance
from tests.helpers import databases


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


async def test_concurrent_resizes_cannot_both_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'resize.db'}")
    async with db.engine.begin() as conn:
        await conn.run_sync(models.Base.metadata.create_all)
    small = {"id": "1", "vcpus": 1, "memory_mb": 64, "root_gb": 1}
    big = {"id": "2", "vcpus": 2, "memory_mb": 64, "root_gb": 1}
    async with db.session() as session:
        await quotas.update_project(session, "p", {"cores": 3})
        for uuid in ("a", "b"):
            session.add(
                Instance(uuid=uuid, project_id="p", user_id="u", vm_state="active", flavor=small)
            )
    checked = quotas.reserve

    async def slow_reserve(*args: Any, **kwargs: Any) -> None:
        await checked(*args, **kwargs)
        await asyncio.sleep(0.05)  # the window a racing check would slip through

    monkeypatch.setattr(quotas, "reserve", slow_reserve)
    ctx = RequestContext(user_id="u", project_id="p", roles=("member",))

    async def resize(uuid: str) -> None:
        async with db.session() as session:
            await server_actions.start_resize(session, ctx, uuid, "p", big)

    results = await asyncio.gather(resize("a"), resize("b"), return_exceptions=True)
    async with db.reader() as session:
        used = await quotas.usage(session, "p")
        rows = (await session.execute(select(Instance).order_by(Instance.uuid))).scalars()
        pending = [(i.new_flavor is not None, i.task_state) for i in rows]
    await db.close()
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "QuotaExceeded"]
    assert used == {"instances": 2, "cores": 3, "ram": 128, "server_groups": 0, "key_pairs": 0}
    assert sorted(pending, key=str) == [(False, None), (True, "resize_prep")]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_batches_of_boots_count_each_other(tmp_path: Path, kind: str) -> None:
    # A batch of one project's boots (`ServerTally`) counts the project once, under its lock,
    # then each boot beside those taken before it; two batches in two processes take turns.
    if kind == "postgresql" and not databases.reachable(kind):
        pytest.skip("postgresql is not reachable on 127.0.0.1:5432")
    limits = quotas.Limits(project={"instances": 3, "cores": -1, "ram": -1}, user={})
    one = {"instances": 1, "cores": 1, "ram": 64}

    async def run(url: str) -> list[Any]:
        db = Database(url)
        async with db.engine.begin() as conn:
            await conn.run_sync(models.Base.metadata.create_all)
        async with db.session() as session:
            session.add(Instance(project_id="p", user_id="u", flavor={"vcpus": 1}))
        counted = asyncio.Event()

        async def batch(first: bool) -> list[Any]:
            outcomes: list[Any] = []
            async with db.session() as session:
                tally = quotas.ServerTally(session, "p")
                for _ in range(2):
                    try:
                        await tally.take("u", one, limits)
                    except quotas.QuotaExceeded as exc:
                        outcomes.append(exc.message)
                        continue
                    session.add(Instance(project_id="p", user_id="u", flavor={"vcpus": 1}))
                    outcomes.append("taken")
                    if first:
                        counted.set()
                        await asyncio.sleep(0.05)  # the window a racing count would slip into
            return outcomes

        async def second() -> list[Any]:
            await counted.wait()
            return await batch(False)

        try:
            return await asyncio.gather(batch(True), second())
        finally:
            await db.close()

    if kind == "sqlite":
        results = asyncio.run(run(f"sqlite+aiosqlite:///{tmp_path / 'quota.db'}"))
    else:
        with databases.fresh(kind) as url:
            results = asyncio.run(run(url))
    refused = "Quota exceeded for instances: Requested 1, but already used 3 of 3 instances"
    assert results == [["taken", "taken"], [refused, refused]]
