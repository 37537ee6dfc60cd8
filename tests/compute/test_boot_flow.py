"""The boot workflow on the fake driver, without HTTP: API domain -> conductor -> scheduler ->
agent, retries, faults, claims and actions."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from overcast.common import errors
from overcast.compute import boot
from overcast.compute.models import actions, hosts, instances
from tests.compute.fakes import Cloud, context


@pytest.fixture
async def cloud(tmp_path: Path):
    c = await Cloud(tmp_path, fake_hosts=3).start()
    yield c
    await c.stop()


async def _boot(cloud: Cloud, **kw) -> list[instances.Instance]:
    ctx = kw.pop("ctx", None) or context()
    req = boot.BootRequest(
        name=kw.pop("name", "vm"),
        flavor_ref=kw.pop("flavor_ref", "1"),
        image_ref=kw.pop("image_ref", cloud.image["id"]),
        networks="none",
        **kw,
    )
    created, _, _ = await boot.create(cloud.state, ctx, req)
    await cloud.bus.drain()
    return created


async def _get(cloud: Cloud, uuid: str) -> instances.Instance:
    async with cloud.db.reader() as session:
        return (
            await session.execute(select(instances.Instance).where(instances.Instance.uuid == uuid))
        ).scalar_one()


async def test_boot_becomes_active_with_events(cloud: Cloud) -> None:
    (inst,) = await _boot(cloud)
    got = await _get(cloud, inst.uuid)
    assert (got.vm_state, got.task_state, got.power_state) == ("active", None, 1)
    assert got.host and got.launched_at
    async with cloud.db.reader() as session:
        action = (await session.execute(select(actions.InstanceAction))).scalar_one()
        names = [e.event for e in action.events]
        assert names == [  # the conductor's event spans the scheduling, as in Nova
            "conductor_schedule_and_build_instances",
            "scheduler_select_destinations",
            "compute__do_build_and_run_instance",
        ]
        assert all(e.result == "Success" and e.finish_time for e in action.events)
        alloc = (await session.execute(select(hosts.Allocation))).scalar_one()
        assert alloc.consumer_uuid == inst.uuid and alloc.vcpus == 1


async def test_failed_spawn_is_retried_elsewhere(cloud: Cloud) -> None:
    (inst,) = await _boot(cloud, metadata={"fake:fail_spawn": "compute1,compute2"})
    got = await _get(cloud, inst.uuid)
    assert got.vm_state == "active" and got.host == "compute3"
    async with cloud.db.reader() as session:
        count = await session.scalar(select(func.count()).select_from(hosts.Allocation))
        assert count == 1


async def test_failing_everywhere_ends_in_error_with_fault(cloud: Cloud) -> None:
    (inst,) = await _boot(cloud, metadata={"fake:fail_spawn": "true"})
    got = await _get(cloud, inst.uuid)
    assert got.vm_state == "error" and got.task_state is None
    assert "Exceeded maximum number of retries" in got.fault["message"]
    async with cloud.db.reader() as session:
        assert not await session.scalar(select(func.count()).select_from(hosts.Allocation))
        node_used = await session.scalar(select(func.sum(hosts.ComputeNode.vcpus_used)))
        assert node_used == 0


async def test_no_valid_host(cloud: Cloud) -> None:
    (inst,) = await _boot(
        cloud,
        flavor_ref="5",
        metadata={},
        min_count=1,
        max_count=1,
        ctx=context(admin=True),
        name="huge",
    )
    assert (await _get(cloud, inst.uuid)).vm_state == "active"
    async with cloud.db.session() as session:  # make every host too small
        for node in (await session.execute(select(hosts.ComputeNode))).scalars():
            node.vcpus_used = node.vcpus * 4
    (inst,) = await _boot(cloud, name="nope")
    got = await _get(cloud, inst.uuid)
    assert got.vm_state == "error" and "No valid host" in got.fault["message"]


async def test_bad_requests_are_4xx(cloud: Cloud) -> None:
    with pytest.raises(errors.BadRequest, match="Invalid flavorRef"):
        await _boot(cloud, flavor_ref="nope")
    with pytest.raises(errors.BadRequest, match="Can not find requested image"):
        await _boot(cloud, image_ref="00000000-0000-0000-0000-000000000000")
    big = cloud.images.add(min_disk=50)
    with pytest.raises(errors.BadRequest, match="disk is too small"):
        await _boot(cloud, image_ref=big["id"])
    async with cloud.db.reader() as session:
        assert not await session.scalar(select(func.count()).select_from(instances.Instance))


async def test_concurrent_boots_never_oversubscribe(tmp_path: Path) -> None:
    cloud = await Cloud(tmp_path, fake_hosts=2, host_vcpus=2, cpu_allocation_ratio=1.0).start()
    try:
        import asyncio

        ctxs = [context(project=f"p{i}") for i in range(8)]
        await asyncio.gather(*(_boot(cloud, ctx=c, name=f"vm{i}") for i, c in enumerate(ctxs)))
        async with cloud.db.reader() as session:
            rows = (await session.execute(select(instances.Instance))).scalars().all()
            active = [r for r in rows if r.vm_state == "active"]
            assert len(active) == 4
            for node in (await session.execute(select(hosts.ComputeNode))).scalars():
                assert node.vcpus_used <= node.vcpus
    finally:
        await cloud.stop()


async def test_a_conductor_schedules_its_turns_of_a_burst(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst waits for the conductor's turns (`conductor_builds`), not inside it: never more
    boots scheduled at once than the turns, and each of the burst ends ACTIVE once."""
    import asyncio

    from overcast.compute.scheduler.manager import Scheduler

    inside, most = 0, 0
    original = Scheduler.select_destinations

    async def counted(self: Scheduler, spec: dict, ctx: dict | None = None) -> list:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        try:
            await asyncio.sleep(0.02)
            return await original(self, spec, ctx)
        finally:
            inside -= 1

    monkeypatch.setattr(Scheduler, "select_destinations", counted)
    cloud = await Cloud(tmp_path, fake_hosts=3, conductor_builds=2).start()
    try:
        ctxs = [context(project=f"p{i}") for i in range(6)]
        await asyncio.gather(*(_boot(cloud, ctx=c, name=f"vm{i}") for i, c in enumerate(ctxs)))
        await cloud.bus.drain()
        async with cloud.db.reader() as session:
            rows = (await session.execute(select(instances.Instance))).scalars().all()
            assert sorted(r.vm_state for r in rows) == ["active"] * 6
            events = (
                await session.execute(
                    select(actions.InstanceActionEvent.event).where(
                        actions.InstanceActionEvent.event == "compute__do_build_and_run_instance"
                    )
                )
            ).all()
            assert len(events) == 6
        assert most == 2
    finally:
        await cloud.stop()


async def test_delete_during_build_leaves_no_claim(cloud: Cloud) -> None:
    import asyncio

    from overcast.compute import servers

    ctx = context()
    for delay in ("0", "0.3"):
        req = boot.BootRequest(
            name="vm",
            flavor_ref="1",
            image_ref=cloud.image["id"],
            networks="none",
            metadata={"fake:spawn_delay": delay},
        )
        (inst,), _, _ = await boot.create(cloud.state, ctx, req)
        await asyncio.sleep(0.05)  # mid-flight: scheduling, or spawning on its host
        await servers.delete(cloud.state, ctx, inst.uuid)
        await cloud.bus.drain()
        await asyncio.sleep(0.4)
        await cloud.bus.drain()
        got = await _get(cloud, inst.uuid)
        assert got.deleted
        for host in cloud.units.hosts.values():
            assert inst.uuid not in await host.driver.list_instances()
    async with cloud.db.reader() as session:
        assert not await session.scalar(select(func.count()).select_from(hosts.Allocation))
        assert not await session.scalar(select(func.sum(hosts.ComputeNode.vcpus_used)))
