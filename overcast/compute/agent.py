"""The compute agent (nova-compute): one per host, driving that host's hypervisor driver.

`ComputeHost` owns the driver and the periodic tasks (resource reports, power-state sync) and
serves an `AgentEndpoint` on the bus as `compute.<host>`. The agent never touches the database:
it reads and writes instances through the conductor, and reaches image, network and volume
services through their REST clients with the user's token. Moves, snapshots and shelving are
in `agent_moves`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import traceback as tb
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from overcast.common import errors, log
from overcast.common.bus import Bus
from overcast.common.config import Settings
from overcast.compute import agent_moves, drivers, networking, reconcile, states, volumes
from overcast.compute.conductor import ANY
from overcast.compute.conductor import TOPIC as CONDUCTOR
from overcast.compute.remote import Remote

LOG = log.get(__name__)

ADMIN_CTX: dict[str, Any] = {"roles": ["admin"], "request_id": "", "user_id": None}


class ConductorAPI:
    """Typed stubs for the conductor's bus methods."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def call(self, method: str, ctx: dict[str, Any], **kwargs: Any) -> Any:
        return await self.bus.call(CONDUCTOR, method, ctx, **kwargs)


def spec_for(
    instance: dict[str, Any], image: dict[str, Any] | None = None, **extra: Any
) -> drivers.InstanceSpec:
    """The driver's view of an instance record."""
    return drivers.InstanceSpec(
        uuid=instance["uuid"],
        name=instance["name"],
        hostname=instance.get("hostname") or instance["display_name"],
        flavor=instance["flavor"],
        image=image or {},
        metadata=instance.get("metadata") or {},
        user_data=instance.get("user_data"),
        key_data=instance.get("key_data"),
        config_drive=bool(instance.get("config_drive")),
        network_info=instance.get("network_info") or [],
        block_devices=instance.get("attachments") or [],
        **extra,
    )


class ComputeHost:
    """A compute host in this process: its driver, its bus endpoint, its periodic tasks."""

    def __init__(self, settings: Settings, bus: Bus, host: str, remote: Remote) -> None:
        self.settings = settings
        self.bus = bus
        self.host = host
        self.remote = remote
        self.conductor = ConductorAPI(bus)
        self.driver = drivers.load(settings, self)
        self.endpoint = AgentEndpoint(self)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.driver.init_host(self.host)
        await self.report()
        self.bus.serve("compute", self.endpoint, server=self.host)
        await reconcile.recover_host(self)
        compute = self.settings.compute
        self._every(compute.report_interval, self.report)
        self._every(compute.sync_power_state_interval, lambda: reconcile.sync_power_states(self))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.driver.cleanup_host()

    def _every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        async def loop() -> None:
            await asyncio.sleep(random.uniform(0, seconds))  # spread many hosts' reports
            while True:
                try:
                    await job()
                except Exception:  # a periodic task must outlive one bad round
                    LOG.exception("periodic task failed on %s", self.host)
                await asyncio.sleep(seconds)

        self._tasks.append(asyncio.get_running_loop().create_task(loop()))

    async def report(self) -> None:
        resources = await self.driver.get_available_resources()
        await self.conductor.call("report", ADMIN_CTX, host=self.host, node=asdict(resources))

    async def lifecycle_event(self, instance_uuid: str, power_state: int) -> None:
        """Driver callback: a guest changed power state by itself."""
        await reconcile.sync_one(self, instance_uuid, power_state)

    # -- helpers the endpoint uses ---------------------------------------------------------

    async def update(
        self,
        ctx: dict[str, Any],
        uuid: str,
        values: dict[str, Any],
        expected: Any = ANY,
        event: dict[str, Any] | None = None,
    ) -> bool:
        done: bool = await self.conductor.call(
            "instance_update",
            ctx,
            uuid=uuid,
            values=values,
            expected_task_state=expected,
            event=event,
        )
        return done

    async def power_state(self, uuid: str) -> int:
        try:
            return (await self.driver.get_info(uuid)).power_state
        except errors.NotFound:
            return states.NOSTATE

    async def run(
        self,
        ctx: dict[str, Any],
        uuid: str,
        event: str,
        work: Callable[[], Awaitable[Any]],
        success: dict[str, Any],
        expected: Any,
        failure: dict[str, Any] | None = None,
    ) -> bool:
        """Record `event`, do `work` with the driver, then settle the instance's states."""
        await self.conductor.call("event_start", ctx, uuid=uuid, event=event, host=self.host)
        try:
            await work()
        except Exception as exc:  # the action failed: the instance must not stay in a task
            LOG.warning("%s failed for %s: %s", event, uuid, exc)
            values = {"task_state": None, "power_state": await self.power_state(uuid)}
            values.update(failure or {})
            await self.update(ctx, uuid, values, event=_failed(event, exc, self.host))
            return False
        values = {"task_state": None, "power_state": await self.power_state(uuid), **success}
        return await self.update(
            ctx, uuid, values, expected, event={"event": event, "host": self.host}
        )

    def image_cache(self) -> Path:
        path = Path(self.settings.data_dir) / "compute" / "images" / self.host
        path.mkdir(parents=True, exist_ok=True)
        return path


def _failed(event: str, exc: BaseException, host: str) -> dict[str, Any]:
    return {
        "event": event,
        "result": "Error",
        "host": host,
        "traceback": "".join(tb.format_exception(type(exc), exc, exc.__traceback__))[-4000:],
        "details": getattr(exc, "message", None) or str(exc),
    }


class AgentEndpoint(agent_moves.MovesMixin):
    """The agent's bus methods (`compute.<host>`). Each takes the caller's context first."""

    def __init__(self, host: ComputeHost) -> None:
        self.h = host

    async def build_and_run_instance(
        self, ctx: dict[str, Any], instance_uuid: str, spec: dict[str, Any], node: str
    ) -> None:
        h, uuid, event = self.h, instance_uuid, "compute__do_build_and_run_instance"
        wants_network = h.remote.has("network") and spec.get("networks") != "none"
        wants_volumes = bool(spec.get("uses_volumes"))
        first = (
            states.NETWORKING
            if wants_network
            else states.BLOCK_DEVICE_MAPPING
            if wants_volumes
            else states.SPAWNING
        )
        instance = await h.conductor.call(
            "start_build", ctx, uuid=uuid, event=event, host=h.host, task_state=first
        )
        if instance is None:
            return  # deleted before it got here; the delete released its claim
        network_info: list[dict[str, Any]] = []
        attached: list[dict[str, Any]] = []
        try:
            image = await self.fetch_image(ctx, instance.get("image_ref"))
            network_info, addresses = await networking.allocate(h.remote, ctx, instance, h.host)
            attached = await volumes.attach_all(h.remote, ctx, instance, h.host)
            instance.update(network_info=network_info, attachments=attached)
            if first != states.SPAWNING and not await h.update(
                ctx,
                uuid,
                {
                    "task_state": states.SPAWNING,
                    "network_info": network_info,
                    "addresses": addresses,
                    "attachments": attached,
                },
            ):
                raise _Deleted()
            await h.driver.spawn(spec_for(instance, image, image_path=image.get("_path")))
        except Exception as exc:
            await h.driver.destroy(uuid)
            await networking.deallocate(h.remote, ctx, network_info)
            await volumes.detach_all(h.remote, ctx, attached)
            if isinstance(exc, _Deleted):
                return
            LOG.info("build of %s failed on %s: %s", uuid, h.host, exc)
            await h.conductor.call("event_finish", ctx, uuid=uuid, **_failed(event, exc, h.host))
            reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            await h.conductor.call(
                "build_failed", ctx, uuid=uuid, spec=spec, host=h.host, node=node, reason=reason
            )
            return
        done = await h.update(
            ctx,
            uuid,
            {
                "vm_state": states.ACTIVE,
                "task_state": None,
                "power_state": states.RUNNING,
                "launched_at": "now",
            },
            states.SPAWNING,
            event={"event": event, "host": h.host},
        )
        if not done:  # deleted while spawning: the delete went to us, clean up anyway
            await h.driver.destroy(uuid)
            await networking.deallocate(h.remote, ctx, network_info)
            await volumes.detach_all(h.remote, ctx, attached)

    async def fetch_image(self, ctx: dict[str, Any], image_ref: str | None) -> dict[str, Any]:
        """The image's record (and its bytes in the host's cache, if the driver needs them)."""
        if not image_ref:
            return {}
        client = self.h.remote.image(ctx)
        image: dict[str, Any] = await client.get(image_ref)
        if image.get("status") != "active":
            raise errors.BadRequest(f"Image {image_ref} is not active.")
        if self.h.driver.capabilities.needs_image_data:
            path = self.h.image_cache() / image_ref
            if not path.exists():
                tmp = path.with_suffix(".part")
                await client.download(image_ref, tmp)
                tmp.replace(path)
            image["_path"] = str(path)
        return image

    async def terminate_instance(self, ctx: dict[str, Any], instance_uuid: str) -> None:
        h, uuid = self.h, instance_uuid
        await h.conductor.call(
            "event_start", ctx, uuid=uuid, event="compute_terminate_instance", host=h.host
        )
        instance = await h.conductor.call("get_instance", ctx, uuid=uuid)
        await h.driver.destroy(uuid)
        if instance is not None:
            await networking.deallocate(h.remote, ctx, instance.get("network_info") or [])
            await volumes.detach_all(h.remote, ctx, instance.get("attachments") or [])
        await h.conductor.call("instance_destroyed", ctx, uuid=uuid)

    async def reboot_instance(
        self, ctx: dict[str, Any], instance_uuid: str, reboot_type: str
    ) -> None:
        hard = reboot_type.upper() == "HARD"
        expected = (
            [states.REBOOTING_HARD, states.REBOOT_PENDING_HARD]
            if hard
            else [states.REBOOTING, states.REBOOT_PENDING]
        )
        await self.h.run(
            ctx,
            instance_uuid,
            "compute_reboot_instance",
            lambda: self.h.driver.reboot(instance_uuid, hard),
            {"vm_state": states.ACTIVE},
            expected,
        )

    async def stop_instance(self, ctx: dict[str, Any], instance_uuid: str) -> None:
        await self.h.run(
            ctx,
            instance_uuid,
            "compute_stop_instance",
            lambda: self.h.driver.power_off(instance_uuid),
            {"vm_state": states.STOPPED},
            states.POWERING_OFF,
        )

    async def start_instance(self, ctx: dict[str, Any], instance_uuid: str) -> None:
        await self.h.run(
            ctx,
            instance_uuid,
            "compute_start_instance",
            lambda: self.h.driver.power_on(instance_uuid),
            {"vm_state": states.ACTIVE},
            states.POWERING_ON,
        )

    async def pause_instance(self, ctx: dict[str, Any], instance_uuid: str) -> None:
        await self.h.run(
            ctx,
            instance_uuid,
            "compute_pause_instance",
            lambda: self.h.driver.pause(instance_uuid),
            {"vm_state": states.PAUSED},
            states.PAUSING,
        )

    async def unpause_instance(self, ctx: dict[str, Any], instance_uuid: str) -> None:
        await self.h.run(
            ctx,
            instance_uuid,
            "compute_unpause_instance",
            lambda: self.h.driver.unpause(instance_uuid),
            {"vm_state": states.ACTIVE},
            states.UNPAUSING,
        )

    async def suspend_instance(self, ctx: dict[str, Any], instance_uuid: str) -> None:
        await self.h.run(
            ctx,
            instance_uuid,
            "compute_suspend_instance",
            lambda: self.h.driver.suspend(instance_uuid),
            {"vm_state": states.SUSPENDED},
            states.SUSPENDING,
        )

    async def resume_instance(self, ctx: dict[str, Any], instance_uuid: str) -> None:
        await self.h.run(
            ctx,
            instance_uuid,
            "compute_resume_instance",
            lambda: self.h.driver.resume(instance_uuid),
            {"vm_state": states.ACTIVE},
            states.RESUMING,
        )

    async def trigger_crash_dump(self, ctx: dict[str, Any], instance_uuid: str) -> None:
        await self.h.run(
            ctx,
            instance_uuid,
            "compute_trigger_crash_dump",
            lambda: self.h.driver.trigger_crash_dump(instance_uuid),
            {},
            None,
        )

    async def get_console_output(
        self, ctx: dict[str, Any], instance_uuid: str, length: int | None = None
    ) -> str:
        text: str = await self.h.driver.get_console_output(instance_uuid)
        if length is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-length:]) if length > 0 else ""
        return text


class _Deleted(Exception):
    """The instance was deleted while it was being built."""
