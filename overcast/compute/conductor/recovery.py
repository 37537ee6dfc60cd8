"""The cloud-wide half of reconciliation, run by the conductor's process.

- `recover_cloud` (service start): moves (resize, migration, live migration, evacuation) that
  were under way are rolled back to their source, with the flavor the instance had, so quota
  usage is what exists; action events left open are ended as errors; builds that never reached
  a host go to ERROR, allocations of instances that do not exist are dropped, node counters are
  recounted.
- `expire_builds` (periodic): a build stuck in BUILD too long goes to ERROR.

Called by `compute.units`; each host's half is `agent.reconcile`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import log
from overcast.common.db.base import utcnow
from overcast.common.db.session import Database
from overcast.compute import records, states
from overcast.compute.models import actions, hosts, instances
from overcast.compute.scheduler import claims

LOG = log.get(__name__)

# Migration states of a move still under way (a resize waiting for confirmation is `finished`).
IN_FLIGHT = ("pre-migrating", "migrating", "post-migrating", "preparing", "running", "queued")
_SETTLED = (*IN_FLIGHT, "finished")


async def _roll_back_moves(session: AsyncSession) -> None:
    """Every move still in flight goes back to its source: the instance's host, node and flavor,
    the source allocation; the destination's claim is dropped and the migration is `error`."""
    mig = instances.Migration
    rows = await session.execute(select(mig).where(mig.status.in_(IN_FLIGHT)))
    for move in rows.scalars():
        if move.dest_node:
            await claims.release(session, move.instance_uuid, move.dest_node)
        await claims.move(session, move.uuid, move.instance_uuid)
        inst = await session.scalar(
            select(instances.Instance).where(instances.Instance.uuid == move.instance_uuid)
        )
        if inst is not None and not inst.deleted:
            inst.host, inst.node = move.source_compute, move.source_node
            inst.new_flavor = None  # an ORM assignment: the counted sizes follow
            inst.task_state = None
            if inst.vm_state == states.RESIZED:
                inst.vm_state = states.ACTIVE
        move.status = "error"
        LOG.info(
            "rolled back the %s of %s interrupted by a restart",
            move.migration_type,
            move.instance_uuid,
        )
    # A resize the API accepted (its new flavor counted) but no migration carries any more.
    carried = select(mig.instance_uuid).where(mig.status.in_(_SETTLED))
    inst = instances.Instance
    stale = await session.execute(
        select(inst).where(
            inst.deleted.is_(False), inst.new_flavor.is_not(None), inst.uuid.not_in(carried)
        )
    )
    for row in stale.scalars():
        row.new_flavor = None


async def _end_open_events(session: AsyncSession) -> None:
    """Nothing runs before the service starts: every event still open ended with the crash."""
    event = actions.InstanceActionEvent
    await session.execute(
        update(event)
        .where(event.finish_time.is_(None))
        .values(
            finish_time=utcnow(),
            result="Error",
            details="Interrupted: the compute service stopped before this step finished.",
        )
    )


async def recover_cloud(db: Database) -> None:
    """Service start: nothing is in flight yet, so a build that never got a host never will."""
    inst = instances.Instance
    async with db.session() as session:
        await _roll_back_moves(session)
        await _end_open_events(session)
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
