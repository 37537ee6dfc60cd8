"""Reconciliation in process: a guest that stops by itself, orphaned claims at start-up."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from overcast.compute import boot
from overcast.compute.agent import reconcile
from overcast.compute.conductor import recovery
from overcast.compute.models import hosts, instances
from tests.compute.fakes import Cloud, context


async def test_guest_stopping_by_itself_shows_shutoff(tmp_path: Path) -> None:
    cloud = await Cloud(tmp_path, fake_hosts=1).start()
    try:
        req = boot.BootRequest(
            name="vm", flavor_ref="1", image_ref=cloud.image["id"], networks="none"
        )
        (inst,), _, _ = await boot.create(cloud.state, context(), req)
        await cloud.bus.drain()
        host = cloud.units.hosts["compute1"]
        await host.driver.crash(inst.uuid)  # type: ignore[attr-defined]
        async with cloud.db.reader() as session:
            row = await session.scalar(
                select(instances.Instance).where(instances.Instance.uuid == inst.uuid)
            )
            assert row is not None and (row.vm_state, row.power_state) == ("stopped", 4)
        await host.driver.power_on(inst.uuid)  # the database says stopped: sync stops it
        await reconcile.sync_power_states(host.h)
        assert (await host.driver.get_info(inst.uuid)).power_state == 4
    finally:
        await cloud.stop()


async def test_orphan_claims_are_dropped_at_start(tmp_path: Path) -> None:
    cloud = await Cloud(tmp_path, fake_hosts=1).start()
    try:
        async with cloud.db.session() as session:
            session.add(
                hosts.Allocation(
                    consumer_uuid="gone",
                    instance_uuid="gone",
                    host="compute1",
                    node="compute1",
                    vcpus=4,
                    memory_mb=1024,
                    disk_gb=10,
                )
            )
            node = await session.scalar(select(hosts.ComputeNode))
            assert node is not None
            node.vcpus_used = 4
        await recovery.recover_cloud(cloud.db, "controller", keeps_messages=False)
        async with cloud.db.reader() as session:
            assert not await session.scalar(select(func.count()).select_from(hosts.Allocation))
            assert await session.scalar(select(hosts.ComputeNode.vcpus_used)) == 0
    finally:
        await cloud.stop()
