"""createImage of a volume-backed server, as Nova does it: a snapshot of each of its volumes
(forced, as they are attached) through the block storage API, and an image without data (active, size 0) whose
`block_device_mapping` property (bdm_v2) maps those snapshots, so that a boot from the image
makes new volumes from them. Called by `server_images.create_image`."""

from __future__ import annotations

import json
from typing import Any

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.compute.models.instances import Instance
from overcast.compute.state import ComputeState

# Image properties a volume keeps from the image it was made from that describe the guest.
_SKIPPED = ("image_id", "image_name", "checksum", "size", "container_format", "disk_format")


async def snapshot(
    st: ComputeState, ctx: RequestContext, inst: Instance, name: str, metadata: dict[str, str]
) -> dict[str, Any]:
    """Snapshot the server's volumes and record the image that maps them (its dict)."""
    volumes = st.remote.volume(ctx.to_dict())
    if volumes is None:
        raise errors.BadRequest("This volume-backed server's volumes cannot be snapshotted.")
    attached = sorted(
        inst.attachments or [],
        key=lambda a: (a.get("boot_index") is None, a.get("boot_index") or 0),
    )
    if not attached:
        raise errors.BadRequest(f"Instance {inst.uuid} has no volume to snapshot.")
    root = await volumes.get_volume(attached[0]["volume_id"])
    mapping = []
    for item in attached:
        volume = await volumes.get_volume(item["volume_id"])
        snap = await volumes.create_snapshot(volume["id"], f"snapshot for {name}")
        mapping.append(
            {
                "source_type": "snapshot",
                "destination_type": "volume",
                "snapshot_id": snap["id"],
                "volume_size": volume["size"],
                "device_name": item.get("device_name"),
                "boot_index": item.get("boot_index"),
                "delete_on_termination": bool(item.get("delete_on_termination")),
                "tag": item.get("tag"),
                "device_type": "disk",
            }
        )
    meta = root.get("volume_image_metadata") or {}
    fields: dict[str, Any] = {
        **{k: str(v) for k, v in meta.items() if k not in _SKIPPED},
        "name": name,
        # Its data is empty, which can only claim to be raw (Nova forces the same).
        "container_format": "bare",
        "disk_format": "raw",
        "visibility": "private",
        "min_ram": int(meta.get("min_ram") or 0),
        "min_disk": int(root.get("size") or 0),
        "instance_uuid": inst.uuid,
        "image_type": "snapshot",
        "user_id": ctx.user_id or "",
        "bdm_v2": "True",
        "root_device_name": attached[0].get("device_name") or "/dev/vda",
        "block_device_mapping": json.dumps(mapping),
        **metadata,
    }
    images = st.remote.image(ctx.to_dict())
    image = await images.create(**fields)
    await images.activate_empty(image["id"])
    return image
