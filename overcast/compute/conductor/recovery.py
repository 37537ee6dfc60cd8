"""The cloud-wide half of reconciliation, run by the conductor's process.

- `recover_cloud` (service start): with the in-process bus, everything stopped together, so
  moves (resize, migration, live migration, evacuation) that were under way are rolled back to
  their source, with the flavor the instance had, so quota usage is what exists (a live
  migration past its switch-over goes on to its destination: `agent.reconcile`); action events
  left open are ended as errors; builds that never reached a host go to ERROR. With a broker
  the other processes lived on and the casts queued for this conductor will still arrive: only
  the builds this conductor had taken (its open scheduling events) go to ERROR, and its own
  events end; each compute host settles the moves it was part of (`agent.reconcile`). Always:
  allocations of instances that do not exist are dropped, node counters are recounted.
- `expire_builds` (periodic): a build stuck in BUILD too long goes to ERROR.

Called by `compute.units`; each host's half is `agent.reconcile`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, Select, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import log
from overcast.common.db.base import utcnow
from overcast.common.db.session import Database
from overcast.compute import records, states
from overcast.compute.conductor.rpc import BUILD_EVENT
from overcast.compute.models import actions, hosts, instances
from overcast.compute.scheduler import claims

LOG = log.get(__name__)


async def _roll_back_moves(session: AsyncSession) -> None:
    """Every move still in flight goes back to its source: the instance's host, node and flavor,
    the source allocation; the destination's claim is dropped and the migration is `error`.
    Not a live migration past its switch-over: its source's agent finishes it."""
    mig = instances.Migration
    back = [s for s in states.MOVE_IN_FLIGHT if s != states.SWITCHED_OVER]
    rows = await session.execute(select(mig).where(mig.status.in_(back)))
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
    carried = select(mig.instance_uuid).where(mig.status.in_(states.MOVE_UNSETTLED))
    inst = instances.Instance
    stale = await session.execute(
        select(inst).where(
            inst.deleted.is_(False), inst.new_flavor.is_not(None), inst.uuid.not_in(carried)
        )
    )
    for row in stale.scalars():
        row.new_flavor = None


async def _end_open_events(session: AsyncSession, host: str | None = None) -> None:
    """Nothing of `host` (of anyone, if None) runs before it starts: the events it left open
    ended with the crash."""
    event = actions.InstanceActionEvent
    mine = [event.host == host] if host is not None else []
    await session.execute(
        update(event)
        .where(event.finish_time.is_(None), *mine)
        .values(
            finish_time=utcnow(),
            result="Error",
            details="Interrupted: the compute service stopped before this step finished.",
        )
    )


def _unplaced() -> Select[tuple[instances.Instance]]:
    """Builds that have not reached a host."""
    inst = instances.Instance
    return select(inst).where(
        inst.deleted.is_(False), inst.host.is_(None), inst.vm_state == states.BUILDING
    )


def _taken(*where: ColumnElement[bool]) -> Select[tuple[str]]:
    """The instances a conductor has taken a build of off the bus (its scheduling event)."""
    event, action = actions.InstanceActionEvent, actions.InstanceAction
    return (
        select(action.instance_uuid)
        .join(event, event.action_id == action.id)
        .where(event.event == BUILD_EVENT, *where)
    )


async def _fail(session: AsyncSession, rows: Select[tuple[instances.Instance]], why: str) -> None:
    """Each build of `rows` goes to ERROR with the fault `Build of instance <uuid> <why>`."""
    for row in (await session.execute(rows)).scalars():
        row.vm_state, row.task_state = states.ERROR, None
        row.fault = records.fault(f"Build of instance {row.uuid} {why}", 500)
        await claims.release(session, row.uuid)


async def recover_cloud(db: Database, host: str, keeps_messages: bool) -> None:
    """Service start of the conductor on `host`; `keeps_messages`: the bus is a broker's."""
    inst = instances.Instance
    async with db.session() as session:
        stuck = _unplaced()
        if keeps_messages:  # only the builds this conductor had taken
            event = actions.InstanceActionEvent
            mine = _taken(event.host == host, event.finish_time.is_(None))
            stuck = stuck.where(inst.uuid.in_(mine))
        else:
            await _roll_back_moves(session)
        why = "was interrupted before it reached a host: the compute service restarted."
        await _fail(session, stuck, why)
        await _end_open_events(session, host if keeps_messages else None)
        live = select(inst.uuid).where(inst.deleted.is_(False))
        moving = select(instances.Migration.uuid).where(
            instances.Migration.status.in_(states.MOVE_UNSETTLED)
        )
        alloc = hosts.Allocation
        await session.execute(
            delete(alloc).where(
                alloc.consumer_uuid.not_in(live), alloc.consumer_uuid.not_in(moving)
            )
        )
        for (node,) in (await session.execute(select(hosts.ComputeNode.hypervisor_hostname))).all():
            await claims.heal(session, node)


async def fail_lost_builds(db: Database, before: dt.datetime) -> None:
    """Some time after a conductor started on a broker, when the casts queued for it have
    arrived: a build from before it started that no conductor has taken (no scheduling event)
    is lost (taken off the bus by a process that died, or never cast by an API that died)."""
    inst = instances.Instance
    lost = _unplaced().where(inst.created_at < before, inst.uuid.not_in(_taken()))
    why = "was lost before it reached a host: the process that held it stopped."
    async with db.session() as session:
        await _fail(session, lost, why)


async def expire_builds(db: Database, timeout: float) -> None:
    """Periodic: a build still in BUILD after `timeout` seconds goes to ERROR."""
    inst = instances.Instance
    limit = utcnow() - dt.timedelta(seconds=timeout)
    old = select(inst).where(
        inst.deleted.is_(False), inst.vm_state == states.BUILDING, inst.created_at < limit
    )
    async with db.session() as session:
        await _fail(session, old, "timed out.")
