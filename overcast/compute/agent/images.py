"""The agent's image-making operations: snapshot, shelve (snapshot, then the guest goes) and
unshelve (a guest again from the shelved image).

Served through `agent.manager.ComputeHost`'s endpoint. The database side is the conductor's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from overcast.common import errors, log, trace
from overcast.compute import states, volumes
from overcast.compute.agent.host import Host, spec_for

LOG = log.get(__name__)


class Images:
    def __init__(self, h: Host) -> None:
        self.h = h

    async def snapshot_instance(
        self, ctx: dict[str, Any], instance_uuid: str, image_id: str
    ) -> None:
        async def work() -> None:
            await self._snapshot(ctx, instance_uuid, image_id, states.IMAGE_UPLOADING)

        if await self.h.run(
            ctx,
            instance_uuid,
            "compute_snapshot_instance",
            work,
            {},
            [states.IMAGE_SNAPSHOT, states.IMAGE_UPLOADING],
        ):
            trace.event("image active", image=image_id)

    async def _snapshot(
        self, ctx: dict[str, Any], uuid: str, image_id: str, uploading: str
    ) -> None:
        client = self.h.remote.image(ctx)
        try:
            with tempfile.TemporaryDirectory(prefix="overcast-snap-") as tmp:
                path = Path(tmp) / "disk"
                with trace.span("guest disk snapshotted"):
                    info = await self.h.driver.snapshot(uuid, path)
                    trace.note(disk_format=info.disk_format, bytes=path.stat().st_size)
                await self.h.update(ctx, uuid, {"task_state": uploading})
                with trace.span("image uploaded", image=image_id):
                    image = await client.get(image_id)
                    if image.get("disk_format") != info.disk_format:
                        await client.update(image_id, {"disk_format": info.disk_format})
                    await client.upload(image_id, path)
        except Exception:
            try:
                await client.delete(image_id)
            except errors.OvercastError:
                LOG.warning("could not delete the failed snapshot %s", image_id)
            raise

    async def shelve_instance(self, ctx: dict[str, Any], instance_uuid: str, image_id: str) -> None:
        h, uuid = self.h, instance_uuid

        async def work() -> None:
            await self._snapshot(ctx, uuid, image_id, states.SHELVING_IMAGE_UPLOADING)
            await h.driver.power_off(uuid)
            await h.driver.destroy(uuid)

        ok = await h.run(
            ctx,
            uuid,
            "compute_shelve_instance",
            work,
            {"vm_state": states.SHELVED_OFFLOADED, "host": None, "node": None},
            [states.SHELVING, states.SHELVING_IMAGE_UPLOADING],
        )
        if ok:
            await h.conductor.call("release", ctx, consumer_uuid=uuid)

    async def unshelve_instance(self, ctx: dict[str, Any], instance_uuid: str, node: str) -> None:
        h, uuid = self.h, instance_uuid

        # What the server keeps of its system metadata (its disk config...): all but the image.
        done: dict[str, Any] = {"vm_state": states.ACTIVE, "system_metadata": {}}

        async def work() -> None:
            instance = await h.instance(ctx, uuid)
            sysmeta = dict(instance.get("system_metadata") or {})
            image_id = sysmeta.pop("shelved_image_id", None)
            done["system_metadata"] = sysmeta
            image = await h.fetch_image(ctx, image_id or instance.get("image_ref"))
            attached = await volumes.connect_pending(h.remote, ctx, h.host, instance)
            if attached != (instance.get("attachments") or []):
                instance = {**instance, "attachments": attached}
                await h.update(ctx, uuid, {"attachments": attached})
            await h.update(ctx, uuid, {"task_state": states.SPAWNING})
            await h.driver.spawn(spec_for(instance, image))
            if image_id:
                try:
                    await h.remote.image(ctx).delete(image_id)
                except errors.OvercastError:
                    LOG.warning("could not delete the shelved image %s", image_id)

        ok = await h.run(
            ctx,
            uuid,
            "compute_unshelve_instance",
            work,
            done,
            [states.UNSHELVING, states.SPAWNING],
            failure={"vm_state": states.SHELVED_OFFLOADED, "host": None, "node": None},
        )
        if not ok:
            await h.conductor.call("release", ctx, consumer_uuid=uuid, node=node)
