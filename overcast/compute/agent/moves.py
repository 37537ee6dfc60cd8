"""The agent's moves: rescue and rebuild (and evacuation's rebuild), resize and cold migration
(source and destination halves) and live migration.

Served through `agent.manager.ComputeHost`'s endpoint. The database side of each move (hosts,
flavors, allocations, migration records) is the conductor's (`conductor.moves`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from overcast.common import errors, log, trace
from overcast.common.bus.endpoints import redeliverable
from overcast.compute import networking, states, volumes
from overcast.compute.agent import reimage
from overcast.compute.agent.host import Host, failed_event, spec_for

LOG = log.get(__name__)


class Moves:
    def __init__(self, h: Host) -> None:
        self.h = h

    async def rescue_instance(
        self, ctx: dict[str, Any], instance_uuid: str, rescue_image_ref: str | None = None
    ) -> None:
        async def work() -> None:
            instance = await self.h.instance(ctx, instance_uuid)
            image = await self.h.fetch_image(ctx, rescue_image_ref or instance.get("image_ref"))
            await self.h.driver.rescue(spec_for(instance, image), image)

        await self.h.run(
            ctx,
            instance_uuid,
            "compute_rescue_instance",
            work,
            {"vm_state": states.RESCUED},
            states.RESCUING,
        )

    async def unrescue_instance(self, ctx: dict[str, Any], instance_uuid: str) -> None:
        await self.h.run(
            ctx,
            instance_uuid,
            "compute_unrescue_instance",
            lambda: self.h.driver.unrescue(instance_uuid),
            {"vm_state": states.ACTIVE},
            states.UNRESCUING,
        )

    async def rebuild_instance(
        self,
        ctx: dict[str, Any],
        instance_uuid: str,
        image_ref: str | None,
        preserve_state: str = states.ACTIVE,
        migration_uuid: str | None = None,
        admin_password: str | None = None,
        reimage_boot_volume: bool = False,
    ) -> None:
        """Rebuild on this host: a new root disk from `image_ref`. With `migration_uuid` this is
        an evacuation's rebuild, on a host the instance was not on. A volume-backed server
        boots from its root volume again, which `reimage_boot_volume` (2.93) first has the
        volume service write `image_ref` over."""
        h, uuid = self.h, instance_uuid
        event = "compute_rebuild_instance"

        async def work() -> None:
            instance = await self.h.instance(ctx, uuid)
            volume_backed = not instance.get("image_ref")
            with trace.span("image fetched", image=image_ref):
                image = {} if volume_backed else await self.h.fetch_image(ctx, image_ref)
            if migration_uuid is not None and instance.get("network_info"):
                await self._bind_here(ctx, instance)
            elif migration_uuid is not None:
                with trace.span("ports created and bound"):
                    network_info, addresses = await networking.allocate(
                        h.remote, ctx, instance, h.host
                    )
                instance["network_info"] = network_info
                await h.update(ctx, uuid, {"network_info": network_info, "addresses": addresses})
            with trace.span("old guest removed"):
                await h.driver.destroy(uuid)
            if volume_backed and reimage_boot_volume and image_ref:
                instance["attachments"] = await reimage.root_volume(h, ctx, instance, image_ref)
            await h.update(ctx, uuid, {"task_state": states.REBUILD_SPAWNING})
            with trace.span("hypervisor defined and started", host=h.host):
                await h.driver.spawn(spec_for(instance, image, admin_password=admin_password))
            if preserve_state == states.STOPPED:
                with trace.span("guest stopped"):
                    await h.driver.power_off(uuid)

        ok = await h.run(
            ctx,
            uuid,
            event,
            work,
            {"vm_state": preserve_state},
            [states.REBUILDING, states.REBUILD_BLOCK_DEVICE_MAPPING, states.REBUILD_SPAWNING],
            failure={"vm_state": states.ERROR},
        )
        if ok:
            trace.event("SHUTOFF" if preserve_state == states.STOPPED else "ACTIVE")
        if migration_uuid is not None:
            await h.conductor.call(
                "finish_evacuation", ctx, uuid=uuid, migration_uuid=migration_uuid, ok=ok
            )

    async def _bind_here(self, ctx: dict[str, Any], instance: dict[str, Any]) -> None:
        """The instance's ports bound to this host (as Nova's migrate_instance_finish), its
        network info (which the guest is plugged by) the new bindings'."""
        if not instance.get("network_info"):
            return
        h = self.h
        with trace.span("ports bound to this host", host=h.host):
            info = await networking.rebind(h.remote, ctx, instance["network_info"], h.host)
        instance["network_info"] = info
        await h.update(ctx, instance["uuid"], {"network_info": info})

    # -- resize and cold migration -----------------------------------------------------------

    async def resize_instance(
        self, ctx: dict[str, Any], instance_uuid: str, migration: dict[str, Any]
    ) -> None:
        """Source half: stop the guest, ready its disks, hand over to the destination."""
        h, uuid = self.h, instance_uuid

        dest = migration["dest_compute"]

        async def work() -> None:
            target: dict[str, Any] = {}
            if dest != h.host:
                with trace.span("destination host readied", target=dest):
                    target = await h.bus.call(
                        f"compute.{dest}", "prepare_migration", ctx, instance_uuid=uuid
                    )
            with trace.span("source host stopped the guest", host=h.host):
                await h.driver.migrate_disk_and_power_off(uuid, dest, target)

        ok = await h.run(
            ctx,
            uuid,
            "compute_resize_instance",
            work,
            {"task_state": states.RESIZE_MIGRATED},
            states.RESIZE_PREP,
        )
        if not ok:
            if dest != h.host:  # what the destination readied goes
                with contextlib.suppress(Exception):
                    await h.bus.call(
                        f"compute.{dest}", "rollback_at_destination", ctx, instance_uuid=uuid
                    )
            await h.conductor.call("abort_move", ctx, uuid=uuid, migration=migration)
            return
        await h.bus.cast(
            f"compute.{migration['dest_compute']}",
            "finish_resize",
            ctx,
            instance_uuid=uuid,
            migration=migration,
        )

    async def finish_resize(
        self, ctx: dict[str, Any], instance_uuid: str, migration: dict[str, Any]
    ) -> None:
        """Destination half: build the guest here with the new flavor; VERIFY_RESIZE."""
        h, uuid = self.h, instance_uuid
        instance = await self.h.instance(ctx, uuid)
        if instance.get("task_state") != states.RESIZE_MIGRATED:  # aborted while it was queued
            LOG.info("dropping the finish of the resize of %s: it was aborted", uuid)
            return
        await h.conductor.call(
            "event_start", ctx, uuid=uuid, event="compute_finish_resize", host=h.host
        )
        old = list(instance.get("attachments") or [])
        try:
            old_state = (instance.get("system_metadata") or {}).get("old_vm_state", states.ACTIVE)
            instance["flavor"] = instance.get("new_flavor") or instance["flavor"]
            with trace.span("image fetched", image=instance.get("image_ref")):
                image = await self.h.fetch_image(ctx, instance.get("image_ref"))
            if migration["source_compute"] != migration["dest_compute"]:
                await self._bind_here(ctx, instance)
                with trace.span("volumes connected here", host=h.host):
                    instance["attachments"] = await volumes.connect_for_move(
                        h.remote, ctx, h.host, instance
                    )
            with trace.span("destination host started the guest", host=h.host):
                await h.driver.finish_migration(
                    spec_for(instance, image),
                    power_on=old_state != states.STOPPED,
                )
        except Exception as exc:
            made = volumes.added(old, instance.get("attachments") or [])
            await volumes.release(h.remote, ctx, made)
            await h.conductor.call(
                "event_finish", ctx, uuid=uuid, **failed_event("compute_finish_resize", exc, h.host)
            )
            await h.conductor.call("abort_move", ctx, uuid=uuid, migration=migration)
            return
        await volumes.complete(h.remote, ctx, volumes.added(old, instance["attachments"]))
        await h.conductor.call(
            "finish_resize",
            ctx,
            uuid=uuid,
            migration=migration,
            power_state=await h.power_state(uuid),
            attachments=instance["attachments"],
        )

    async def confirm_resize(
        self, ctx: dict[str, Any], instance_uuid: str, migration: dict[str, Any]
    ) -> None:
        """Source: forget the old guest and let its volume connections go (unless the resize
        stayed on this host)."""
        h = self.h
        if migration["source_compute"] != migration["dest_compute"]:
            await h.driver.destroy(instance_uuid)
            instance = await h.instance(ctx, instance_uuid)
            await volumes.release(h.remote, ctx, await volumes.left_behind(h.remote, ctx, instance))
        await self.h.driver.confirm_migration(instance_uuid)
        await self.h.conductor.call("confirm_resize", ctx, uuid=instance_uuid, migration=migration)

    async def revert_resize(
        self, ctx: dict[str, Any], instance_uuid: str, migration: dict[str, Any]
    ) -> None:
        """Destination: drop the new guest, then let the source bring the old one back."""
        if migration["source_compute"] != migration["dest_compute"]:
            await self.h.driver.destroy(instance_uuid)
        await self.h.bus.cast(
            f"compute.{migration['source_compute']}",
            "finish_revert_resize",
            ctx,
            instance_uuid=instance_uuid,
            migration=migration,
        )

    async def finish_revert_resize(
        self, ctx: dict[str, Any], instance_uuid: str, migration: dict[str, Any]
    ) -> None:
        """Source: the guest back as it was, with its volume connections here (kept until the
        move was confirmed); the destination's go."""
        h, uuid = self.h, instance_uuid
        instance = await self.h.instance(ctx, uuid)
        old_state = (instance.get("system_metadata") or {}).get("old_vm_state", states.ACTIVE)
        instance["flavor"] = instance.get("old_flavor") or instance["flavor"]
        there = list(instance.get("attachments") or [])
        if migration["source_compute"] != migration["dest_compute"]:
            await self._bind_here(ctx, instance)
            back = {a["volume_id"]: a for a in await volumes.left_behind(h.remote, ctx, instance)}
            instance["attachments"] = [back.get(a["volume_id"], a) for a in there]
        await h.driver.finish_revert_migration(
            spec_for(instance), power_on=old_state != states.STOPPED
        )
        await h.conductor.call(
            "finish_revert_resize",
            ctx,
            uuid=uuid,
            migration=migration,
            power_state=await h.power_state(uuid),
            attachments=instance["attachments"],
        )
        await volumes.release(h.remote, ctx, volumes.added(instance["attachments"], there))

    # -- live migration ---------------------------------------------------------------------

    async def live_migration(
        self, ctx: dict[str, Any], instance_uuid: str, migration: dict[str, Any]
    ) -> None:
        """Source half, as Nova's: the destination readies a QEMU and connects the volumes
        for itself (`pre_live_migration`); the guest moves, its copy here left stopped; the
        record says it switched over (`post-migrating`) and the move goes on to its end
        (`finish_switched_over`). A failure before the switch-over drops what the destination
        made; the guest runs on here."""
        h, uuid, dest = self.h, instance_uuid, migration["dest_compute"]
        await h.conductor.call(
            "event_start", ctx, uuid=uuid, event="compute_live_migration", host=h.host
        )
        there = f"compute.{dest}"
        old = list((await h.instance(ctx, uuid)).get("attachments") or [])
        new = old
        try:
            source = await h.driver.check_can_live_migrate_source(uuid)
            with trace.span("destination host readied", target=dest):
                ready = await h.bus.call(there, "pre_live_migration", ctx, instance_uuid=uuid,
                                         source=source)  # fmt: skip
            new = list(ready.get("attachments") or [])
            with trace.span("guest moved live", host=h.host, target=dest):
                handover = await h.driver.live_migration(uuid, dest, ready["target"])
        except Exception as exc:  # the guest runs on here: what the destination readied goes
            await self._called_off(ctx, uuid, migration, volumes.added(old, new), exc)
            return
        try:
            switched = await _switch_over(h, ctx, uuid, migration)
        except errors.OvercastError as exc:  # recorded or not: both copies wait, stopped
            LOG.error("the switch-over of the live migration of %s could not be recorded; this "
                      "host's next start settles it by the record: %s", uuid, exc)  # fmt: skip
            return
        if not switched:  # called off meanwhile: the copy here runs on
            await h.driver.abandon_migration(spec_for(await h.instance(ctx, uuid)), power_on=True)
            called_off = errors.Conflict(f"the live migration of {uuid} was called off")
            await self._called_off(ctx, uuid, migration, volumes.added(old, new), called_off)
            return
        await finish_switched_over(h, ctx, uuid, migration, old, new, handover)

    async def _called_off(
        self,
        ctx: dict[str, Any],
        uuid: str,
        migration: dict[str, Any],
        made: list[dict[str, Any]],
        exc: Exception,
    ) -> None:
        """A live migration that did not switch over: what the destination readied (its
        QEMU, the attachments it `made`) goes, the instance stays here."""
        h = self.h
        with contextlib.suppress(Exception):
            await h.bus.call(f"compute.{migration['dest_compute']}", "rollback_at_destination",
                             ctx, instance_uuid=uuid)  # fmt: skip
        await volumes.release(h.remote, ctx, made)
        await h.conductor.call(
            "event_finish", ctx, uuid=uuid, **failed_event("compute_live_migration", exc, h.host)
        )
        await h.conductor.call("abort_move", ctx, uuid=uuid, migration=migration)

    async def pre_live_migration(
        self, ctx: dict[str, Any], instance_uuid: str, source: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Destination: the guest's volumes connected here too, and the driver ready to take
        the guest: `{"target": the driver's, "attachments": the record's once it moved}`."""
        h = self.h
        instance = await h.instance(ctx, instance_uuid)
        image = await h.fetch_image(ctx, instance.get("image_ref"))
        old = list(instance.get("attachments") or [])
        instance["attachments"] = await volumes.connect_for_move(h.remote, ctx, h.host, instance)
        try:
            target = await h.driver.pre_live_migration(spec_for(instance, image), source)
        except BaseException:
            await volumes.release(h.remote, ctx, volumes.added(old, instance["attachments"]))
            raise
        return {"target": target, "attachments": instance["attachments"]}

    @redeliverable
    async def post_live_migration_at_destination(
        self, ctx: dict[str, Any], instance_uuid: str, handover: dict[str, Any] | None = None
    ) -> None:
        """Destination: the guest runs here. Again: nothing more."""
        instance = await self.h.instance(ctx, instance_uuid)
        await self.h.driver.post_live_migration_at_destination(spec_for(instance), handover or {})

    async def prepare_migration(self, ctx: dict[str, Any], instance_uuid: str) -> dict[str, Any]:
        instance = await self.h.instance(ctx, instance_uuid)
        instance["flavor"] = instance.get("new_flavor") or instance["flavor"]
        image = await self.h.fetch_image(ctx, instance.get("image_ref"))
        return await self.h.driver.prepare_migration(spec_for(instance, image))

    async def rollback_at_destination(self, ctx: dict[str, Any], instance_uuid: str) -> None:
        await self.h.driver.rollback_at_destination(instance_uuid)


async def _switch_over(
    h: Host, ctx: dict[str, Any], uuid: str, migration: dict[str, Any], tries: int = 4
) -> bool:
    """The switch-over recorded (`conductor.switched_over`): asked again while the conductor
    does not answer (the call is safe to repeat), since until it has, neither copy of the
    guest may run. False: the move was called off."""
    for attempt in range(tries):
        try:
            return bool(await h.conductor.call("switched_over", ctx, uuid=uuid,
                                               migration=migration))  # fmt: skip
        except errors.OvercastError as exc:
            if attempt == tries - 1:
                raise
            LOG.warning("recording the switch-over of %s failed (%s); trying again", uuid, exc)
            await asyncio.sleep(2**attempt)
    return False


async def finish_switched_over(
    h: Host,
    ctx: dict[str, Any],
    uuid: str,
    migration: dict[str, Any],
    old: list[dict[str, Any]],
    new: list[dict[str, Any]],
    handover: dict[str, Any],
) -> None:
    """Source, a live migration past its switch-over (its record `post-migrating`): the copy
    here ends (`post_live_migration`, which adds to the `handover`); the volume connections
    are handed over, the source's (`old`) let go before the guest runs there (an export of a
    volume stored here is opened anew then); the destination lets the guest run; the record
    puts the instance there with its `new` attachments (`completed`); what is left of the
    copy goes. Each step may run again: this host's next start finishes a move that a crash
    cut short so (`reconcile.recover_host`)."""
    dest = migration["dest_compute"]
    power = states.RUNNING
    try:
        with trace.span("source host let its copy go", host=h.host):
            handover = {**handover, **await h.driver.post_live_migration(uuid)}
    except errors.OvercastError as exc:  # once the instance is not here, `drop_strays` tries
        LOG.warning("the copy of %s left by its live migration did not end: %s", uuid, exc)
    try:
        with trace.span("volume connections handed over", target=dest):
            await volumes.hand_over(h.remote, ctx, old, new)
        with trace.span("destination host took the guest", target=dest):
            await h.bus.call(f"compute.{dest}", "post_live_migration_at_destination", ctx,
                             instance_uuid=uuid, handover=handover)  # fmt: skip
    except Exception as exc:  # the guest is there, stopped still (its host's start runs it)
        LOG.warning("the live migration of %s to %s ended with the guest stopped there: %s",
                    uuid, dest, exc)  # fmt: skip
        power = states.PAUSED_POWER
    await h.conductor.call("finish_live_migration", ctx, uuid=uuid, migration=migration,
                           power_state=power, attachments=new)  # fmt: skip
    with contextlib.suppress(errors.OvercastError):  # else `drop_strays` does, later
        await h.driver.destroy(uuid)
