"""The conductor's reads and writes on behalf of the agents (which never touch the database):
instances, action events, host reports, deletion and claim release.

One of the pieces of the conductor's bus endpoint (`conductor.Conductor`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from overcast.common.bus import Bus
from overcast.common.bus.endpoints import redeliverable
from overcast.common.config import Settings
from overcast.common.db.base import utcnow
from overcast.common.db.session import Database
from overcast.compute import records, states
from overcast.compute.conductor import rpc, writes
from overcast.compute.models import hosts, instances
from overcast.compute.scheduler import claims

# What an agent's report sets on its node.
_REPORTED = (
    "vcpus",
    "memory_mb",
    "local_gb",
    "hypervisor_type",
    "hypervisor_version",
    "host_ip",
    "cpu_info",
    "capabilities",
)


class AgentAccess:
    """Every method takes the caller's context dict first. Those the agents wait on are
    `redeliverable`: run again after a conductor died in them, they answer as the first run
    would have (a write already made is seen as made), so a build is not left waiting."""

    def __init__(self, settings: Settings, db: Database, bus: Bus) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus

    @redeliverable
    async def get_instance(self, ctx: dict[str, Any], uuid: str) -> dict[str, Any] | None:
        async with self.db.reader() as session:
            inst = await writes.get(session, uuid)
            return None if inst is None or inst.deleted else records.instance_dict(inst)

    @redeliverable
    async def instance_update(
        self,
        ctx: dict[str, Any],
        uuid: str,
        values: dict[str, Any],
        expected_task_state: Any = rpc.ANY,
        event: dict[str, Any] | None = None,
    ) -> bool:
        """Update an instance (guarded by its task_state) and optionally finish an event."""
        async with self.db.session() as session:
            if await writes.update_instance(session, uuid, values, expected_task_state):
                if event is not None:
                    await records.event_finish(session, ctx, uuid, **event)
                return True
            return expected_task_state != rpc.ANY and writes.holds(
                await writes.get(session, uuid), values
            )

    @redeliverable
    async def start_build(
        self, ctx: dict[str, Any], uuid: str, event: str, host: str, task_state: str
    ) -> dict[str, Any] | None:
        """An agent begins a build: record its event, move the task state on (from
        scheduling), and hand it the instance; None when the instance was deleted."""
        async with self.db.session() as session:
            moved = await writes.update_instance(
                session, uuid, {"task_state": task_state}, states.SCHEDULING
            )
            inst = await writes.get(session, uuid)
            if not moved and not (writes.holds(inst, {"task_state": task_state, "host": host})):
                return None
            if moved:
                await records.event_start(session, ctx, uuid, event, host)
            return None if inst is None else records.instance_dict(inst)

    @redeliverable
    async def event_start(self, ctx: dict[str, Any], uuid: str, event: str, host: str) -> None:
        async with self.db.session() as session:
            await records.event_start(session, ctx, uuid, event, host)

    @redeliverable
    async def event_finish(self, ctx: dict[str, Any], uuid: str, **event: Any) -> None:
        async with self.db.session() as session:
            await records.event_finish(session, ctx, uuid, **event)

    @redeliverable
    async def instances_on_host(self, ctx: dict[str, Any], host: str) -> list[dict[str, Any]]:
        return (await self.instances_on_hosts(ctx, [host])).get(host, [])

    @redeliverable
    async def instances_on_hosts(
        self, ctx: dict[str, Any], hosts: list[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """The live instances of each of `hosts` (one with none is missing)."""
        inst = instances.Instance
        out: dict[str, list[dict[str, Any]]] = {}
        async with self.db.reader() as session:
            rows = await session.execute(
                select(inst).where(inst.host.in_(hosts), inst.deleted.is_(False))
            )
            for row in rows.scalars():
                out.setdefault(row.host or "", []).append(records.instance_dict(row))
        return out

    @redeliverable
    async def report(self, ctx: dict[str, Any], reports: list[dict[str, Any]]) -> None:
        """Agents' periodic reports (`{"host", "node"}` each): their services are alive and their
        nodes have these totals, whose usage is recounted from the allocations. One transaction
        and a few statements for them all, however many hosts a process reports for."""
        compute, now = self.settings.compute, utcnow()
        by_host = {r["host"]: r["node"] for r in reports}
        svc, cn = hosts.Service, hosts.ComputeNode
        async with self.db.session() as session:
            # The heartbeats of the services there are: one UPDATE for them all.
            ours = (svc.host.in_(by_host), svc.binary == "nova-compute")
            known = set((await session.execute(select(svc.host).where(*ours))).scalars())
            await session.execute(
                update(svc)
                .where(*ours)
                .values(report_count=svc.report_count + 1, last_seen_up=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            for host in set(by_host) - known:
                session.add(
                    hosts.Service(
                        host=host,
                        binary="nova-compute",
                        topic="compute",
                        report_count=1,
                        last_seen_up=now,
                        updated_at=now,
                    )
                )
            names = [n["hypervisor_hostname"] for n in by_host.values()]
            # Every node is seen now (one UPDATE); a row is written on its own only when
            # its totals or its usage changed.
            await session.execute(
                update(cn)
                .where(cn.hypervisor_hostname.in_(names))
                .values(updated_at=now)
                .execution_options(synchronize_session=False)
            )
            nodes = {
                n.hypervisor_hostname: n
                for n in (
                    await session.execute(select(cn).where(cn.hypervisor_hostname.in_(names)))
                ).scalars()
            }
            usage = await claims.usage(session, names)
            for host, node in by_host.items():
                name = node["hypervisor_hostname"]
                row = nodes.get(name)
                if row is None:
                    row = hosts.ComputeNode(
                        hypervisor_hostname=name,
                        cpu_allocation_ratio=compute.cpu_allocation_ratio,
                        ram_allocation_ratio=compute.ram_allocation_ratio,
                        disk_allocation_ratio=compute.disk_allocation_ratio,
                        updated_at=now,
                    )
                    session.add(row)
                row.host = host
                for key in _REPORTED:
                    setattr(row, key, node.get(key, getattr(row, key)))
                (row.vcpus_used, row.memory_mb_used, row.local_gb_used, row.running_vms) = (
                    usage.get(name, (0, 0, 0, 0))
                )

    @redeliverable
    async def instance_destroyed(self, ctx: dict[str, Any], uuid: str) -> None:
        """The agent removed the guest: mark the instance deleted and free what it held."""
        async with self.db.session() as session:
            await writes.destroy_record(session, uuid)
            await records.event_finish(session, ctx, uuid, "compute_terminate_instance")

    @redeliverable
    async def release(
        self, ctx: dict[str, Any], consumer_uuid: str, node: str | None = None
    ) -> None:
        async with self.db.session() as session:
            await claims.release(session, consumer_uuid, node)
