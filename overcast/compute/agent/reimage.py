"""The root volume of a volume-backed server re-imaged for its rebuild (Nova's
`_rebuild_volume_backed_instance`, microversion 2.93): a fresh attachment keeps the volume
reserved for the server while the guest's is dropped, the volume service writes the image over
it (`os-reimage`, volume API 3.68) and says so with `volume-reimaged`, then the volume is
connected to this host again for the guest to boot from. Called by `moves.rebuild_instance`
after the old guest is gone."""

from __future__ import annotations

import math
from typing import Any

from overcast.common import errors, trace
from overcast.compute import states, volumes
from overcast.compute.agent.host import Host

EVENT = "volume-reimaged"


async def root_volume(
    h: Host, ctx: dict[str, Any], instance: dict[str, Any], image_ref: str
) -> list[dict[str, Any]]:
    """The server's attachment items once its root volume holds `image_ref` and is connected
    here again. Fails (errors.Conflict, errors.Timeout) when the volume service could not, or
    did not say in `reimage_timeout_per_gb` seconds per GB of the image."""
    uuid = instance["uuid"]
    client = h.remote.volume(ctx)
    attached = list(instance.get("attachments") or [])
    root = volumes.root(attached)
    if client is None or root is None:
        raise errors.Conflict(f"Instance {uuid} has no root volume to re-image.")
    volume_id = root["volume_id"]
    image = await h.remote.image(ctx).get(image_ref)
    gigabytes = max(1, math.ceil(int(image.get("size") or 0) / 2**30))
    with trace.span("root volume reserved by a new attachment", volume=volume_id):
        fresh = await client.create_attachment(volume_id, uuid)
        try:
            await client.delete_attachment(root["attachment_id"])
        except errors.NotFound:
            pass
        except BaseException:
            await volumes.release(h.remote, ctx, [{"attachment_id": fresh["id"]}])
            raise
    item = {**root, "attachment_id": fresh["id"], "connection_info": {}}
    attached = [item if a is root else a for a in attached]
    # Recorded at once: a delete from now on releases the reserved attachment, not the old.
    await h.update(ctx, uuid, {"attachments": attached})
    keys = h.events.expect(uuid, EVENT, [volume_id])
    with trace.span("root volume re-imaged", volume=volume_id, image=image_ref):
        try:
            await client.reimage(volume_id, image_ref, reserved=True)
        except BaseException:
            h.events.forget(keys)
            raise
        await h.events.wait(keys, h.settings.compute.reimage_timeout_per_gb * gigabytes)
    await h.update(ctx, uuid, {"task_state": states.REBUILD_BLOCK_DEVICE_MAPPING})
    with trace.span("root volume connected", host=h.host):
        connected = await volumes.connect_pending(
            h.remote, ctx, h.host, {**instance, "attachments": attached}
        )
    await h.update(ctx, uuid, {"attachments": connected})
    return connected
