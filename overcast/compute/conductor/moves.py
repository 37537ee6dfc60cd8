"""The conductor's side of moving instances: resize and cold migration, live migration,
evacuation and unshelve. One of the pieces of the conductor's bus endpoint.

While an instance moves, its source-side resources are held by the migration record (the
source allocation is handed to the migration's uuid) and the destination's by the instance;
confirm, revert, completion and abort each settle both sides in one transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors, log, trace
from overcast.common.bus import Bus
from overcast.common.bus.endpoints import redeliverable
from overcast.common.config import Settings
from overcast.common.db.session import Database
from overcast.compute import records, states
from overcast.compute.conductor import rpc, writes
from overcast.compute.models import instances
from overcast.compute.scheduler import claims
from overcast.compute.scheduler.manager import TOPIC as SCHEDULER

LOG = log.get(__name__)


def migration_dict(m: instances.Migration) -> dict[str, Any]:
    return {
        "uuid": m.uuid,
        "id": m.id,
        "migration_type": m.migration_type,
        "status": m.status,
        "source_compute": m.source_compute,
        "source_node": m.source_node,
        "dest_compute": m.dest_compute,
        "dest_node": m.dest_node,
    }


async def _set_migration(session: AsyncSession, uuid: str, **values: Any) -> None:
    mig = instances.Migration
    await session.execute(update(mig).where(mig.uuid == uuid).values(**values))


async def _drop_new_flavor(session: AsyncSession, uuid: str) -> None:
    """A resize that will not happen: the instance counts its own flavor again."""
    inst = await session.scalar(select(instances.Instance).where(instances.Instance.uuid == uuid))
    if inst is not None:
        inst.new_flavor = None


class Moves:
    """Every method takes the caller's context dict first."""

    def __init__(self, settings: Settings, db: Database, bus: Bus) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus

    async def _start_move(
        self,
        ctx: dict[str, Any],
        uuid: str,
        kind: str,
        event: str,
        new_flavor: dict[str, Any] | None = None,
        host: str | None = None,
        same_host_ok: bool = False,
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Record the migration, hand the source allocation to it and schedule a destination.
        (instance dict, migration dict), or None when no host was found (already settled).
        A resize's `new_flavor` was recorded by the API, with its quota check."""
        async with self.db.session() as session:
            inst = (
                await session.execute(
                    select(instances.Instance).where(instances.Instance.uuid == uuid)
                )
            ).scalar_one()
            mig = instances.Migration(
                instance_uuid=uuid,
                migration_type=kind,
                source_compute=inst.host,
                source_node=inst.node,
                old_flavor_id=inst.flavor.get("id"),
                new_flavor_id=(new_flavor or inst.flavor).get("id"),
                user_id=ctx.get("user_id"),
                project_id=inst.project_id,
            )
            session.add(mig)
            await session.flush()
            await claims.move(session, uuid, mig.uuid)
            instance = records.instance_dict(inst)
            migration = migration_dict(mig)
        spec = {
            **(instance.get("request_spec") or {}),
            "instance_uuids": [uuid],
            "num_instances": 1,
            "flavor": new_flavor or instance["flavor"],
            "retry": {"num_attempts": 1, "hosts": []},
            "force_hosts": [host] if host else [],
            "ignore_hosts": [] if same_host_ok else [instance["host"]],
            "project_id": instance["project_id"],
            "user_id": instance["user_id"],
        }
        try:
            picked = (await self.bus.call(SCHEDULER, "select_destinations", ctx, spec=spec))[0]
        except errors.OvercastError as exc:
            async with self.db.session() as session:
                await claims.move(session, migration["uuid"], uuid)
                await _set_migration(session, migration["uuid"], status="error")
                await writes.update_instance(session, uuid, {"task_state": None})
                await _drop_new_flavor(session, uuid)
                await records.event_finish(
                    session,
                    ctx,
                    uuid,
                    event,
                    result="Error",
                    traceback=exc.message,
                    details=exc.message,
                )
            return None
        async with self.db.session() as session:
            await _set_migration(
                session,
                migration["uuid"],
                dest_compute=picked["host"],
                dest_node=picked["node"],
                status="migrating",
            )
            await records.event_finish(session, ctx, uuid, event)
        migration.update(dest_compute=picked["host"], dest_node=picked["node"])
        return instance, migration

    async def migrate_server(
        self,
        ctx: dict[str, Any],
        uuid: str,
        new_flavor: dict[str, Any] | None,
        host: str | None = None,
    ) -> None:
        """Resize (with a new flavor) or cold-migrate: schedule, then the source agent."""
        kind = "resize" if new_flavor is not None else "migration"
        with trace.span("conductor", move=kind):
            await self._migrate(ctx, uuid, kind, new_flavor, host)

    async def _migrate(
        self,
        ctx: dict[str, Any],
        uuid: str,
        kind: str,
        new_flavor: dict[str, Any] | None,
        host: str | None,
    ) -> None:
        started = await self._start_move(
            ctx,
            uuid,
            kind,
            "conductor_migrate_server",
            new_flavor,
            host,
            same_host_ok=kind == "resize" and self.settings.compute.allow_resize_to_same_host,
        )
        if started is not None:
            instance, migration = started
            await self.bus.cast(
                rpc.agent(instance["host"]),
                "resize_instance",
                ctx,
                instance_uuid=uuid,
                migration=migration,
            )

    async def finish_resize(
        self,
        ctx: dict[str, Any],
        uuid: str,
        migration: dict[str, Any],
        power_state: int,
        attachments: list[dict[str, Any]] | None = None,
    ) -> None:
        """The guest runs on the destination (with `attachments`, its volumes' connections
        there): VERIFY_RESIZE."""
        async with self.db.session() as session:
            inst = await session.scalar(
                select(instances.Instance).where(instances.Instance.uuid == uuid)
            )
            if inst is None:
                return
            if attachments is not None:
                inst.attachments = attachments
            inst.old_flavor = inst.flavor
            inst.flavor = inst.new_flavor or inst.flavor
            inst.new_flavor = None
            inst.host, inst.node = migration["dest_compute"], migration["dest_node"]
            inst.vm_state, inst.task_state, inst.power_state = states.RESIZED, None, power_state
            await _set_migration(session, migration["uuid"], status="finished")
            trace.event("VERIFY_RESIZE")
            await records.event_finish(
                session, ctx, uuid, "compute_finish_resize", host=migration["dest_compute"]
            )

    async def confirm_resize(
        self, ctx: dict[str, Any], uuid: str, migration: dict[str, Any]
    ) -> None:
        async with self.db.session() as session:
            await claims.release(session, migration["uuid"])
            inst = await session.scalar(
                select(instances.Instance).where(instances.Instance.uuid == uuid)
            )
            sysmeta = dict(inst.system_metadata or {}) if inst else {}
            old = sysmeta.pop("old_vm_state", states.ACTIVE) if inst else None
            await writes.update_instance(
                session,
                uuid,
                {
                    "vm_state": old,
                    "task_state": None,
                    "old_flavor": None,
                    "system_metadata": sysmeta,
                },
            )
            await _set_migration(session, migration["uuid"], status="confirmed")
            await records.event_finish(
                session, ctx, uuid, "compute_confirm_resize", host=migration["source_compute"]
            )

    async def finish_revert_resize(
        self,
        ctx: dict[str, Any],
        uuid: str,
        migration: dict[str, Any],
        power_state: int,
        attachments: list[dict[str, Any]] | None = None,
    ) -> None:
        """The guest is back on the source (with `attachments`, its volumes' connections
        there again)."""
        async with self.db.session() as session:
            await claims.release(session, uuid, migration["dest_node"])
            await claims.move(session, migration["uuid"], uuid)
            inst = await session.scalar(
                select(instances.Instance).where(instances.Instance.uuid == uuid)
            )
            if inst is None:
                return
            if attachments is not None:
                inst.attachments = attachments
            inst.flavor = inst.old_flavor or inst.flavor
            inst.old_flavor = None
            inst.host, inst.node = migration["source_compute"], migration["source_node"]
            sysmeta = dict(inst.system_metadata or {})  # the rest (disk config...) stays
            inst.vm_state = sysmeta.pop("old_vm_state", states.ACTIVE)
            inst.task_state, inst.power_state, inst.system_metadata = None, power_state, sysmeta
            await _set_migration(session, migration["uuid"], status="reverted")
            await records.event_finish(
                session, ctx, uuid, "compute_finish_revert_resize", host=migration["source_compute"]
            )

    async def abort_move(self, ctx: dict[str, Any], uuid: str, migration: dict[str, Any]) -> None:
        """A move failed on an agent: the instance stays where it was, resources too."""
        async with self.db.session() as session:
            if migration.get("dest_node"):
                await claims.release(session, uuid, migration["dest_node"])
            await claims.move(session, migration["uuid"], uuid)
            inst = await session.scalar(
                select(instances.Instance).where(instances.Instance.uuid == uuid)
            )
            if inst is not None:
                inst.host, inst.node = migration["source_compute"], migration["source_node"]
                inst.task_state, inst.new_flavor = None, None
                if inst.vm_state == states.RESIZED:
                    inst.vm_state = states.ACTIVE
            await _set_migration(session, migration["uuid"], status="error")

    async def abort_interrupted_moves(self, ctx: dict[str, Any], host: str) -> int:
        """`host` has restarted: each move whose current step ran there is aborted (it will never
        finish), the instance staying at its source. Steps running on the other host go on."""
        mig, inst = instances.Migration, instances.Instance
        async with self.db.reader() as session:
            rows = (
                await session.execute(
                    select(mig, inst.task_state)
                    .join(inst, inst.uuid == mig.instance_uuid)
                    .where(
                        mig.status.in_(states.MOVE_IN_FLIGHT),
                        or_(mig.source_compute == host, mig.dest_compute == host),
                    )
                )
            ).all()
        aborted = 0
        for move, task in rows:
            if move.status == states.SWITCHED_OVER:  # its source finishes it (`switched_over`)
                continue
            at_destination = task in states.DESTINATION_STEPS or move.migration_type == "evacuation"
            if (move.dest_compute if at_destination else move.source_compute) == host:
                LOG.info("aborting the %s of %s: %s restarted", move.migration_type,
                         move.instance_uuid, host)  # fmt: skip
                await self.abort_move(ctx, move.instance_uuid, migration_dict(move))
                aborted += 1
        return aborted

    async def strays(self, ctx: dict[str, Any], host: str, uuids: list[str]) -> list[str]:
        """Of the guests `uuids` that `host` holds, those that neither an instance on `host`
        owns nor a move to or from it still needs (under way, or waiting for its confirm or
        revert). One statement, one snapshot: asked after the host listed its guests, a move
        that completed since is seen with its instance on `host`."""
        mig, inst = instances.Migration, instances.Instance
        needed = select(mig.instance_uuid).where(
            mig.status.in_(states.MOVE_UNSETTLED),
            or_(mig.source_compute == host, mig.dest_compute == host),
        )
        async with self.db.reader() as session:
            kept = await session.scalars(
                select(inst.uuid).where(
                    inst.uuid.in_(uuids),
                    inst.deleted.is_(False),
                    or_(inst.host == host, inst.uuid.in_(needed)),
                )
            )
            held = set(kept)
        return [u for u in uuids if u not in held]

    async def live_migrate(self, ctx: dict[str, Any], uuid: str, host: str | None = None) -> None:
        with trace.span("conductor", move="live-migration"):
            await self._live_migrate(ctx, uuid, host)

    async def _live_migrate(self, ctx: dict[str, Any], uuid: str, host: str | None) -> None:
        started = await self._start_move(
            ctx, uuid, "live-migration", "conductor_live_migrate_instance", None, host
        )
        if started is not None:
            instance, migration = started
            await self.bus.cast(
                rpc.agent(instance["host"]),
                "live_migration",
                ctx,
                instance_uuid=uuid,
                migration=migration,
            )

    @redeliverable
    async def switched_over(
        self, ctx: dict[str, Any], uuid: str, migration: dict[str, Any]
    ) -> bool:
        """The source's QEMU has handed the guest to the destination's: the record says so
        (`post-migrating`) before the source lets its copy go or the destination lets the
        guest run, so that a restart finishes the move instead of rolling it back. False when
        the move had been called off (the source runs its copy on). Run again, the same."""
        mig = instances.Migration
        async with self.db.session() as session:
            await session.execute(
                update(mig)
                .where(mig.uuid == migration["uuid"], mig.status.in_(states.MOVE_IN_FLIGHT))
                .values(status=states.SWITCHED_OVER)
            )
            status = await session.scalar(select(mig.status).where(mig.uuid == migration["uuid"]))
        return bool(status == states.SWITCHED_OVER)

    async def switched_over_from(self, host: str) -> dict[str, dict[str, Any]]:
        """The live migrations from `host` past their switch-over, by instance."""
        mig = instances.Migration
        async with self.db.reader() as session:
            rows = await session.scalars(
                select(mig).where(
                    mig.status == states.SWITCHED_OVER,
                    mig.migration_type == "live-migration",
                    mig.source_compute == host,
                )
            )
            return {m.instance_uuid: migration_dict(m) for m in rows}

    @redeliverable
    async def finish_live_migration(
        self,
        ctx: dict[str, Any],
        uuid: str,
        migration: dict[str, Any],
        power_state: int,
        attachments: list[dict[str, Any]] | None = None,
    ) -> None:
        """The guest runs on the destination (with `attachments`, its volumes' connections
        there): the instance is the destination's, the move `completed`. Run again, nothing."""
        values: dict[str, Any] = {
            "host": migration["dest_compute"],
            "node": migration["dest_node"],
            "task_state": None,
            "power_state": power_state,
        }
        if attachments is not None:
            values["attachments"] = attachments
        mig = instances.Migration
        async with self.db.session() as session:
            status = await session.scalar(select(mig.status).where(mig.uuid == migration["uuid"]))
            if status == "completed":
                return
            await claims.release(session, migration["uuid"])
            await writes.update_instance(session, uuid, values)
            await _set_migration(session, migration["uuid"], status="completed")
            await records.event_finish(
                session, ctx, uuid, "compute_live_migration", host=migration["source_compute"]
            )
            trace.event("ACTIVE", host=migration["dest_compute"])

    async def evacuate(
        self,
        ctx: dict[str, Any],
        uuid: str,
        host: str | None,
        preserve_state: str,
        admin_password: str | None = None,
    ) -> None:
        with trace.span("conductor", move="evacuation"):
            started = await self._start_move(
                ctx, uuid, "evacuation", "conductor_rebuild_server", None, host
            )
        if started is None:
            return
        instance, migration = started
        async with self.db.session() as session:
            await writes.update_instance(
                session, uuid, {"host": migration["dest_compute"], "node": migration["dest_node"]}
            )
        await self.bus.cast(
            rpc.agent(migration["dest_compute"]),
            "rebuild_instance",
            ctx,
            instance_uuid=uuid,
            image_ref=instance.get("image_ref"),
            preserve_state=preserve_state,
            migration_uuid=migration["uuid"],
            admin_password=admin_password,
        )

    async def finish_evacuation(
        self, ctx: dict[str, Any], uuid: str, migration_uuid: str, ok: bool
    ) -> None:
        async with self.db.session() as session:
            await claims.release(session, migration_uuid)
            await _set_migration(session, migration_uuid, status="done" if ok else "failed")

    async def unshelve(self, ctx: dict[str, Any], uuid: str, spec: dict[str, Any]) -> None:
        try:
            picked = (await self.bus.call(SCHEDULER, "select_destinations", ctx, spec=spec))[0]
        except errors.OvercastError as exc:
            async with self.db.session() as session:
                await writes.update_instance(session, uuid, {"task_state": None})
                await records.event_finish(
                    session,
                    ctx,
                    uuid,
                    "conductor_unshelve_instance",
                    result="Error",
                    traceback=exc.message,
                )
            return
        async with self.db.session() as session:
            await writes.update_instance(
                session, uuid, {"host": picked["host"], "node": picked["node"]}
            )
            await records.event_finish(session, ctx, uuid, "conductor_unshelve_instance")
        await self.bus.cast(
            rpc.agent(picked["host"]),
            "unshelve_instance",
            ctx,
            instance_uuid=uuid,
            node=picked["node"],
        )
