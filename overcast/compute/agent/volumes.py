"""The compute agent's part of attaching a volume to a running server and detaching it
(`os-volume_attachments`): the API has reserved the attachment in the volume service; here the
host gives it its connector, the driver attaches the disk, the attachment is completed and the
server's record lists the volume. Served on `compute.<host>` as part of the agent's endpoint."""

from __future__ import annotations

from typing import Any

from overcast.common import errors, log
from overcast.compute import volumes
from overcast.compute.agent.host import Host

LOG = log.get(__name__)


class Volumes:
    def __init__(self, h: Host) -> None:
        self.h = h

    async def attach_volume(
        self,
        ctx: dict[str, Any],
        instance_uuid: str,
        volume_id: str,
        attachment_id: str,
        device: str,
        tag: str | None = None,
        delete_on_termination: bool = False,
    ) -> dict[str, Any]:
        h = self.h
        client = h.remote.volume(ctx)
        if client is None:
            raise errors.ServiceUnavailable("There is no volume service.")
        instance = await h.conductor.call("get_instance", ctx, uuid=instance_uuid)
        if instance is None:
            raise errors.NotFound(f"Instance {instance_uuid} could not be found.")
        attachment = await client.update_attachment(
            attachment_id, volumes.connector(h.host, device)
        )
        info = attachment.get("connection_info") or {}
        await h.driver.attach_volume(instance_uuid, info, device)
        try:
            await client.complete_attachment(attachment_id)
            item = {
                "volume_id": volume_id,
                "attachment_id": attachment_id,
                "boot_index": None,
                "device_name": device,
                "tag": tag,
                "delete_on_termination": delete_on_termination,
                "connection_info": info,
            }
            current = await h.conductor.call("get_instance", ctx, uuid=instance_uuid)
            attached = [*((current or {}).get("attachments") or []), item]
            await h.update(ctx, instance_uuid, {"attachments": attached})
        except Exception:
            await h.driver.detach_volume(instance_uuid, info)
            raise
        return item

    async def detach_volume(self, ctx: dict[str, Any], instance_uuid: str, volume_id: str) -> None:
        h = self.h
        instance = await h.conductor.call("get_instance", ctx, uuid=instance_uuid)
        if instance is None:
            raise errors.NotFound(f"Instance {instance_uuid} could not be found.")
        found = [a for a in instance.get("attachments") or [] if a["volume_id"] == volume_id]
        if not found:
            raise errors.NotFound(f"Volume {volume_id} is not attached to {instance_uuid}.")
        await h.driver.detach_volume(instance_uuid, found[0].get("connection_info") or {})
        await volumes.detach_all(h.remote, ctx, [{**found[0], "delete_on_termination": False}])
        current = await h.conductor.call("get_instance", ctx, uuid=instance_uuid)
        left = [a for a in (current or {}).get("attachments") or [] if a["volume_id"] != volume_id]
        await h.update(ctx, instance_uuid, {"attachments": left})
