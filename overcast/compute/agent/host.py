"""What every piece of the compute agent is handed: one host's driver, its conductor stub and
its REST clients, with the few steps all operations share (record an event, settle states,
fetch an image into the host's cache).

Built by `agent.manager.ComputeHost`; used by `build`, `actions`, `moves`, `images` and
`reconcile`, which call it and never each other's callers.
"""

from __future__ import annotations

import asyncio
import traceback as tb
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from overcast.common import errors, log
from overcast.common.bus import Bus
from overcast.common.config import Settings
from overcast.compute import drivers, metadata, states
from overcast.compute.agent.events import InstanceEvents
from overcast.compute.agent.imagecache import ImageCache
from overcast.compute.conductor import rpc
from overcast.compute.remote import Remote

LOG = log.get(__name__)

ADMIN_CTX: dict[str, Any] = {"roles": ["admin"], "request_id": "", "user_id": None}


class ConductorAPI:
    """The conductor's bus methods, called by name."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def call(self, method: str, ctx: dict[str, Any], **kwargs: Any) -> Any:
        return await self.bus.call(rpc.TOPIC, method, ctx, **kwargs)


def spec_for(
    instance: dict[str, Any], image: dict[str, Any] | None = None, **extra: Any
) -> drivers.InstanceSpec:
    """The driver's view of an instance record (and of the image `Host.fetch_image` got)."""
    image = image or {}
    return drivers.InstanceSpec(
        uuid=instance["uuid"],
        name=instance["name"],
        hostname=instance.get("hostname") or instance["display_name"],
        flavor=instance["flavor"],
        image=image,
        image_path=image.get("_path"),
        kernel_path=image.get("_kernel_path"),
        ramdisk_path=image.get("_ramdisk_path"),
        metadata=instance.get("metadata") or {},
        user_data=instance.get("user_data"),
        key_data=instance.get("key_data"),
        config_drive=bool(instance.get("config_drive")),
        network_info=instance.get("network_info") or [],
        block_devices=instance.get("attachments") or [],
        metadata_files=metadata.files(instance),
        **extra,
    )


def failed_event(event: str, exc: BaseException, host: str) -> dict[str, Any]:
    """The finish of an instance-action event that failed with `exc`."""
    return {
        "event": event,
        "result": "Error",
        "host": host,
        "traceback": "".join(tb.format_exception(type(exc), exc, exc.__traceback__))[-4000:],
        "details": getattr(exc, "message", None) or str(exc),
    }


class Host:
    """One compute host's means. `host` is its name (the bus server `compute.<host>`)."""

    def __init__(
        self, settings: Settings, bus: Bus, host: str, remote: Remote, driver: drivers.Driver
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.host = host
        self.remote = remote
        self.driver = driver
        self.conductor = ConductorAPI(bus)
        self.events = InstanceEvents()
        # Cleared while a restart's recovery settles the volume attachments it cut short;
        # attaches and detaches wait for it (`volumes.settle`).
        self.volumes_settled = asyncio.Event()
        self.volumes_settled.set()
        self.images = ImageCache(Path(settings.data_dir) / "compute" / "images" / host)

    async def update(
        self,
        ctx: dict[str, Any],
        uuid: str,
        values: dict[str, Any],
        expected: Any = rpc.ANY,
        event: dict[str, Any] | None = None,
    ) -> bool:
        """Change the instance if its task_state is `expected`; finish `event` with it."""
        done: bool = await self.conductor.call(
            "instance_update",
            ctx,
            uuid=uuid,
            values=values,
            expected_task_state=expected,
            event=event,
        )
        return done

    async def instance(self, ctx: dict[str, Any], uuid: str) -> dict[str, Any]:
        instance = await self.conductor.call("get_instance", ctx, uuid=uuid)
        if instance is None:
            raise errors.NotFound(f"Instance {uuid} could not be found.")
        return dict(instance)

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
            await self.update(ctx, uuid, values, event=failed_event(event, exc, self.host))
            return False
        values = {"task_state": None, "power_state": await self.power_state(uuid), **success}
        return await self.update(
            ctx, uuid, values, expected, event={"event": event, "host": self.host}
        )

    async def fetch_image(self, ctx: dict[str, Any], image_ref: str | None) -> dict[str, Any]:
        """The image's record; with a driver that needs image data, its verified bytes in the
        host's cache (`_path`) and those of its kernel_id and ramdisk_id images."""
        if not image_ref:
            return {}
        client = self.remote.image(ctx)
        image: dict[str, Any] = await client.get(image_ref)
        if image.get("status") != "active":
            raise errors.BadRequest(f"Image {image_ref} is not active.")
        if self.driver.capabilities.needs_image_data:
            image["_path"] = str(await self.images.fetch(client, image))
            for key, field in (("kernel_id", "_kernel_path"), ("ramdisk_id", "_ramdisk_path")):
                if image.get(key):
                    part = await client.get(image[key])
                    image[field] = str(await self.images.fetch(client, part))
        return image
