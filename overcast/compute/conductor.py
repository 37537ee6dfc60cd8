"""The conductor: the agents' only way to the database, and the orchestrator of builds.

Served on the bus as topic `compute-conductor`. `schedule_and_build_instances` asks the
scheduler for hosts and casts each build to its host's agent (`compute.<host>`); a failed build
comes back through `build_failed`, which releases the claim and retries on another host until
`compute.max_attempts`, then puts the instance in ERROR with a fault saying why.
Moves (resize, migrations, evacuation, unshelve) are in `compute.moves`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors, log
from overcast.common.bus import Bus
from overcast.common.config import Settings
from overcast.common.db.base import utcnow
from overcast.common.db.session import Database
from overcast.compute import aggregates, moves, records, states
from overcast.compute.models import hosts, instances
from overcast.compute.scheduler import claims
from overcast.compute.scheduler.manager import TOPIC as SCHEDULER

LOG = log.get(__name__)

TOPIC = "compute-conductor"
ANY = "__any__"
_TIMES = ("launched_at", "terminated_at", "deleted_at")
_FLAVORS = frozenset({"flavor", "new_flavor"})


def agent(host: str) -> str:
    """The bus target of one host's compute agent."""
    return f"compute.{host}"


def _values(values: dict[str, Any]) -> dict[str, Any]:
    """Bus-safe values to column values: timestamps travel as "now" or ISO text."""
    out = dict(values)
    for key in _TIMES:
        if isinstance(out.get(key), str):
            out[key] = utcnow() if out[key] == "now" else dt.datetime.fromisoformat(out[key])
    if "metadata" in out:
        out["metadata_"] = out.pop("metadata")
    return out


async def update_instance(
    session: AsyncSession,
    uuid: str,
    values: dict[str, Any],
    expected_task_state: Any = ANY,
) -> bool:
    """Change a live instance if its task_state is still as expected; False otherwise.
    Flavors are not changed here: they go through the ORM, which keeps the counted sizes."""
    if _FLAVORS & values.keys():
        raise ValueError(f"update_instance cannot change {sorted(_FLAVORS & values.keys())}")
    inst = instances.Instance
    stmt = update(inst).where(inst.uuid == uuid, inst.deleted.is_(False))
    if expected_task_state != ANY:
        expected = (
            expected_task_state if isinstance(expected_task_state, list) else [expected_task_state]
        )
        clause: Any = inst.task_state.in_([e for e in expected if e is not None])
        if None in expected:
            clause = clause | inst.task_state.is_(None)
        stmt = stmt.where(clause)
    result = await session.execute(stmt.values(**_values(values), updated_at=utcnow()))
    return bool(result.rowcount)  # type: ignore[attr-defined]


class Conductor(moves.MovesMixin):
    """Bus endpoint. Every method takes the caller's context dict first."""

    def __init__(self, settings: Settings, db: Database, bus: Bus) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus

    # -- reads and writes on behalf of the agents --------------------------------------------

    async def get_instance(self, ctx: dict[str, Any], uuid: str) -> dict[str, Any] | None:
        async with self.db.reader() as session:
            inst = await _get(session, uuid)
            return None if inst is None or inst.deleted else records.instance_dict(inst)

    async def instance_update(
        self,
        ctx: dict[str, Any],
        uuid: str,
        values: dict[str, Any],
        expected_task_state: Any = ANY,
        event: dict[str, Any] | None = None,
    ) -> bool:
        """Update an instance (guarded by its task_state) and optionally finish an event."""
        async with self.db.session() as session:
            done = await update_instance(session, uuid, values, expected_task_state)
            if event is not None:
                await records.event_finish(session, ctx, uuid, **event)
        return done

    async def start_build(
        self, ctx: dict[str, Any], uuid: str, event: str, host: str, task_state: str
    ) -> dict[str, Any] | None:
        """An agent begins a build: record its event, move the task state on (from
        scheduling), and hand it the instance; None when the instance was deleted."""
        async with self.db.session() as session:
            await records.event_start(session, ctx, uuid, event, host)
            if not await update_instance(
                session, uuid, {"task_state": task_state}, states.SCHEDULING
            ):
                return None
            inst = await _get(session, uuid)
            return None if inst is None else records.instance_dict(inst)

    async def event_start(self, ctx: dict[str, Any], uuid: str, event: str, host: str) -> None:
        async with self.db.session() as session:
            await records.event_start(session, ctx, uuid, event, host)

    async def event_finish(self, ctx: dict[str, Any], uuid: str, **event: Any) -> None:
        async with self.db.session() as session:
            await records.event_finish(session, ctx, uuid, **event)

    async def instances_on_host(self, ctx: dict[str, Any], host: str) -> list[dict[str, Any]]:
        inst = instances.Instance
        async with self.db.reader() as session:
            rows = await session.execute(
                select(inst).where(inst.host == host, inst.deleted.is_(False))
            )
            return [records.instance_dict(i) for i in rows.scalars()]

    async def report(self, ctx: dict[str, Any], host: str, node: dict[str, Any]) -> None:
        """An agent's periodic report: its service is alive and its node has these totals."""
        compute = self.settings.compute
        now = utcnow()
        async with self.db.session() as session:
            svc = (
                await session.execute(
                    select(hosts.Service).where(
                        hosts.Service.host == host, hosts.Service.binary == "nova-compute"
                    )
                )
            ).scalar_one_or_none()
            if svc is None:
                svc = hosts.Service(host=host, binary="nova-compute", topic="compute")
                session.add(svc)
            svc.report_count = (svc.report_count or 0) + 1
            svc.last_seen_up = now
            svc.updated_at = now
            name = node["hypervisor_hostname"]
            row = (
                await session.execute(
                    select(hosts.ComputeNode).where(hosts.ComputeNode.hypervisor_hostname == name)
                )
            ).scalar_one_or_none()
            if row is None:
                row = hosts.ComputeNode(
                    hypervisor_hostname=name,
                    cpu_allocation_ratio=compute.cpu_allocation_ratio,
                    ram_allocation_ratio=compute.ram_allocation_ratio,
                    disk_allocation_ratio=compute.disk_allocation_ratio,
                )
                session.add(row)
            row.host = host
            for key in (
                "vcpus",
                "memory_mb",
                "local_gb",
                "hypervisor_type",
                "hypervisor_version",
                "host_ip",
                "cpu_info",
                "capabilities",
            ):
                setattr(row, key, node.get(key, getattr(row, key)))
            row.updated_at = now
            await session.flush()
            await claims.heal(session, name)

    # -- builds -----------------------------------------------------------------------------

    async def schedule_and_build_instances(self, ctx: dict[str, Any], spec: dict[str, Any]) -> None:
        uuids: list[str] = list(spec["instance_uuids"])
        started = utcnow()
        try:
            selections = await self.bus.call(SCHEDULER, "select_destinations", ctx, spec=spec)
        except errors.OvercastError as exc:
            LOG.info("scheduling failed: %s", exc.message)
            async with self.db.session() as session:
                for uuid in uuids:
                    await _to_error(session, uuid, records.fault(exc))
                    await records.event_finish(
                        session,
                        ctx,
                        uuid,
                        "conductor_schedule_and_build_instances",
                        result="Error",
                        traceback=exc.message,
                        start=started,
                    )
            return
        for selection in selections:
            uuid = selection["instance_uuid"]
            one = {
                **spec,
                "instance_uuids": [uuid],
                "num_instances": 1,
                "retry": {"num_attempts": 1, "hosts": [selection["host"]]},
            }
            await self._send_build(ctx, uuid, one, selection, started)

    async def _send_build(
        self,
        ctx: dict[str, Any],
        uuid: str,
        spec: dict[str, Any],
        selection: dict[str, Any],
        started: dt.datetime,
        event: str = "conductor_schedule_and_build_instances",
    ) -> None:
        host, node = selection["host"], selection["node"]
        async with self.db.session() as session:
            values = {"host": host, "node": node, "launched_on": host}
            if not spec.get("availability_zone"):  # Nova shows the zone of the host it got
                values["availability_zone"] = await aggregates.host_availability_zone(
                    session, host, self.settings.compute.default_availability_zone
                )
            placed = await update_instance(session, uuid, values)
            if not placed:  # deleted while it was being scheduled
                await claims.release(session, uuid)
                return
            await records.event_finish(session, ctx, uuid, event, start=started)
        try:
            await self.bus.cast(
                agent(host), "build_and_run_instance", ctx, instance_uuid=uuid, spec=spec, node=node
            )
        except errors.OvercastError as exc:
            await self.build_failed(ctx, uuid, spec, host, node, exc.message)

    async def build_failed(
        self,
        ctx: dict[str, Any],
        uuid: str,
        spec: dict[str, Any],
        host: str,
        node: str,
        reason: str,
    ) -> None:
        """A host could not build the instance: release its claim and try another host."""
        started = utcnow()
        max_attempts = self.settings.compute.max_attempts
        retry = dict(spec.get("retry") or {"num_attempts": 1, "hosts": [host]})
        async with self.db.session() as session:
            await claims.release(session, uuid, node)
            if retry["num_attempts"] >= max_attempts:
                message = (
                    f"Build of instance {uuid} aborted: Exceeded maximum number of retries. "
                    f"Exceeded max scheduling attempts {max_attempts} for instance {uuid}. "
                    f"Last exception: {reason}"
                )
                await _to_error(session, uuid, records.fault(message, 500, reason))
                return
            still = await update_instance(
                session, uuid, {"host": None, "node": None, "task_state": states.SCHEDULING}
            )
            if not still:
                return
        retry = {
            "num_attempts": retry["num_attempts"] + 1,
            "hosts": sorted({*retry.get("hosts", []), host}),
        }
        spec = {**spec, "retry": retry}
        try:
            picked = await self.bus.call(SCHEDULER, "select_destinations", ctx, spec=spec)
        except errors.OvercastError as exc:
            message = (
                f"Build of instance {uuid} aborted: {exc.message} Exhausted all hosts available "
                f"for retrying build failures for instance {uuid}. Last exception: {reason}"
            )
            async with self.db.session() as session:
                await _to_error(session, uuid, records.fault(message, 500, reason))
            return
        spec["retry"]["hosts"] = sorted({*retry["hosts"], picked[0]["host"]})
        await self._send_build(ctx, uuid, spec, picked[0], started, "conductor_reschedule")

    # -- deletion ---------------------------------------------------------------------------

    async def instance_destroyed(self, ctx: dict[str, Any], uuid: str) -> None:
        """The agent removed the guest: mark the instance deleted and free what it held."""
        async with self.db.session() as session:
            await destroy_record(session, uuid)
            await records.event_finish(session, ctx, uuid, "compute_terminate_instance")


async def _get(session: AsyncSession, uuid: str) -> instances.Instance | None:
    stmt = select(instances.Instance).where(instances.Instance.uuid == uuid)
    return (await session.execute(stmt)).scalar_one_or_none()


async def _to_error(session: AsyncSession, uuid: str, fault: dict[str, Any]) -> None:
    await update_instance(
        session, uuid, {"vm_state": states.ERROR, "task_state": None, "fault": fault}
    )


async def destroy_record(session: AsyncSession, uuid: str) -> None:
    """Soft-delete the instance row and release everything counted against it."""
    now = utcnow()
    inst = instances.Instance
    await session.execute(
        update(inst)
        .where(inst.uuid == uuid, inst.deleted.is_(False))
        .values(
            deleted=True,
            vm_state=states.DELETED,
            task_state=None,
            power_state=states.NOSTATE,
            terminated_at=now,
            deleted_at=now,
            updated_at=now,
        )
    )
    await claims.release(session, uuid)
    mig = instances.Migration
    for (migration_uuid,) in (
        await session.execute(select(mig.uuid).where(mig.instance_uuid == uuid))
    ).all():
        await claims.release(session, migration_uuid)
    try:
        from overcast.compute import server_groups
    except ImportError:  # pragma: no cover - the groups module is another engineer's
        return
    await server_groups.remove_member(session, uuid)
