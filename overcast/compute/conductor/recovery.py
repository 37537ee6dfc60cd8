"""The cloud-wide half of reconciliation, run by the conductor's process.

- `recover_cloud` (service start): builds that never reached a host go to ERROR, allocations
  of instances that do not exist are dropped, node counters are recounted.
- `expire_builds` (periodic): a build stuck in BUILD too long goes to ERROR.

Called by `compute.units`; each host's half is `agent.reconcile`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select

from overcast.common.db.base import utcnow
from overcast.common.db.session import Database
from overcast.compute import records, states
from overcast.compute.models import hosts, instances
from overcast.compute.scheduler import claims


async def recover_cloud(db: Database) -> None:
    """Service start: nothing is in flight yet, so a build that never got a host never will."""
    inst = instances.Instance
    async with db.session() as session:
        stuck = await session.execute(
            select(inst).where(
                inst.deleted.is_(False), inst.host.is_(None), inst.vm_state == states.BUILDING
            )
        )
        for row in stuck.scalars():
            row.vm_state, row.task_state = states.ERROR, None
            row.fault = records.fault(
                f"Build of instance {row.uuid} was interrupted before it reached a host: "
                "the compute service restarted.",
                500,
            )
        live = select(inst.uuid).where(inst.deleted.is_(False))
        moving = select(instances.Migration.uuid).where(
            instances.Migration.status.in_(("pre-migrating", "migrating", "finished"))
        )
        alloc = hosts.Allocation
        await session.execute(
            delete(alloc).where(
                alloc.consumer_uuid.not_in(live), alloc.consumer_uuid.not_in(moving)
            )
        )
        for (node,) in (await session.execute(select(hosts.ComputeNode.hypervisor_hostname))).all():
            await claims.heal(session, node)


async def expire_builds(db: Database, timeout: float) -> None:
    """Periodic: a build still in BUILD after `timeout` seconds goes to ERROR."""
    inst = instances.Instance
    limit = utcnow() - dt.timedelta(seconds=timeout)
    async with db.session() as session:
        rows = await session.execute(
            select(inst).where(
                inst.deleted.is_(False), inst.vm_state == states.BUILDING, inst.created_at < limit
            )
        )
        for row in rows.scalars():
            row.vm_state, row.task_state = states.ERROR, None
            row.fault = records.fault(f"Build of instance {row.uuid} timed out.", 500)
            await claims.release(session, row.uuid)
