"""Block device mappings an image carries, as Nova reads them when a server boots from it: a
volume-backed server's snapshot image (`volume_snapshots`) has no data, only
`block_device_mapping` (bdm_v2) naming volume snapshots, so the server boots from new volumes
made from them. The image's mappings are merged under the request's (a request mapping of the
same device wins; the request's image root gives way to the image's own root).

Called by `boot._check` before anything is recorded; refusals are Nova's 400s.
"""

from __future__ import annotations

import json
from typing import Any

from overcast.clients.image import properties
from overcast.common import errors
from overcast.compute.remote import Remote

_SOURCES = {"snapshot": "snapshot_id", "volume": "volume_id", "image": "image_id"}


def _invalid(why: str) -> errors.BadRequest:
    return errors.BadRequest(f"Block Device Mapping is Invalid: {why}")


def from_image(image: dict[str, Any]) -> list[dict[str, Any]]:
    """The image's mappings in the form the boot request's take (`uuid` the source's id)."""
    props = properties(image)
    raw = props.get("block_device_mapping")
    if not raw or str(props.get("bdm_v2")).lower() != "true":
        return []
    try:
        found = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise _invalid("the image's block_device_mapping is not JSON.") from exc
    if not isinstance(found, list) or not all(isinstance(b, dict) for b in found):
        raise _invalid("the image's block_device_mapping is not a list of mappings.")
    out = []
    for bdm in found:
        source = str(bdm.get("source_type") or "")
        item = {k: v for k, v in bdm.items() if v is not None}
        item.setdefault("destination_type", "volume")
        if source in _SOURCES:
            item["uuid"] = bdm.get(_SOURCES[source]) or bdm.get("uuid")
            if source == "volume":
                item["volume_id"] = item["uuid"]
        out.append(item)
    return out


def _is_root(bdm: dict[str, Any]) -> bool:
    return str(bdm.get("boot_index")) == "0"


def merge(image: list[dict[str, Any]], requested: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The image's mappings overridden by the request's for the same device."""
    if any(_is_root(b) for b in image):
        requested = [b for b in requested if not (_is_root(b) and b.get("source_type") == "image")]
    named = {b.get("device_name") for b in requested if b.get("device_name")}
    kept = [b for b in image if not b.get("device_name") or b.get("device_name") not in named]
    return [*kept, *requested]


async def check_snapshots(remote: Remote, ctx: dict[str, Any], bdms: list[dict[str, Any]]) -> None:
    """Every snapshot a mapping makes a volume from exists for the caller (400 otherwise)."""
    wanted = [str(b.get("uuid")) for b in bdms if b.get("source_type") == "snapshot"]
    client = remote.volume(ctx) if wanted else None
    if client is None:
        return
    for snapshot_id in wanted:
        try:
            await client.get_snapshot(snapshot_id)
        except errors.NotFound as exc:
            raise _invalid(f"failed to get snapshot {snapshot_id}.") from exc
