"""Nova's block storage proxy (`os-volumes`, `os-snapshots`): the volume service's volumes and
snapshots in Nova's camel-case shape, with the caller's token, so the volume service's policies,
quotas and checks apply; Nova's own checks of the request come first. Called by
`api.proxy_volume`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from overcast.clients.volume import VolumeClient
from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.compute.state import ComputeState

Json = dict[str, Any]


def _client(st: ComputeState, ctx: RequestContext) -> VolumeClient:
    client = st.remote.volume(ctx.to_dict())
    if client is None:
        raise errors.NotFound("There is no block storage service in this cloud.")
    return client


def _path(kind: str, item_id: str) -> str:
    return f"/{kind}/{quote(item_id, safe='')}"


def volume_view(volume: Json) -> Json:
    attachments = [
        {
            "id": a.get("attachment_id") or volume["id"],
            "volumeId": volume["id"],
            "serverId": a.get("server_id"),
            "device": a.get("device") or "",
        }
        for a in volume.get("attachments") or []
    ]
    return {
        "id": volume["id"],
        "status": volume["status"],
        "size": volume["size"],
        "availabilityZone": volume.get("availability_zone") or "",
        "createdAt": volume["created_at"],
        "attachments": attachments or [{}],
        "displayName": volume.get("name"),
        "displayDescription": volume.get("description"),
        "volumeType": volume.get("volume_type"),
        "snapshotId": volume.get("snapshot_id"),
        "metadata": volume.get("metadata") or {},
    }


def snapshot_view(snapshot: Json) -> Json:
    return {
        "id": snapshot["id"],
        "volumeId": snapshot["volume_id"],
        "status": snapshot["status"],
        "size": snapshot["size"],
        "createdAt": snapshot["created_at"],
        "displayName": snapshot.get("name"),
        "displayDescription": snapshot.get("description"),
    }


def _window(items: list[Json], params: dict[str, str]) -> list[Json]:
    """Nova's `limit` and `offset` over the whole list (non-negative integers, or 400)."""
    try:
        offset = int(params.get("offset", 0))
        limit = int(params["limit"]) if "limit" in params else None
    except ValueError as exc:
        raise errors.BadRequest("limit and offset must be integers") from exc
    if offset < 0 or (limit is not None and limit < 0):
        raise errors.BadRequest("limit and offset must be >= 0")
    return items[offset : None if limit is None else offset + limit]


async def list_volumes(st: ComputeState, ctx: RequestContext, params: dict[str, str]) -> list[Json]:
    found = await _client(st, ctx).call("GET", "/volumes/detail")
    return _window([volume_view(v) for v in found["volumes"]], params)


async def show_volume(st: ComputeState, ctx: RequestContext, volume_id: str) -> Json:
    found = await _client(st, ctx).call("GET", _path("volumes", volume_id))
    return volume_view(found["volume"])


def _size(value: Any) -> int:
    try:
        size = int(str(value))
    except ValueError as exc:
        raise errors.BadRequest(f"Invalid input for field/attribute size: {value!r}") from exc
    if size < 1:
        raise errors.BadRequest(f"Invalid input for field/attribute size: {value!r}")
    return size


def _text(fields: Json, key: str) -> str | None:
    value = fields.get(key)
    if value is not None and not isinstance(value, str):
        raise errors.BadRequest(f"Invalid input for field/attribute {key}.")
    return value


async def create_volume(st: ComputeState, ctx: RequestContext, body: Json) -> Json:
    fields = body.get("volume")
    if not isinstance(fields, dict):
        raise errors.BadRequest("Invalid input: 'volume' is a required object.")
    metadata = fields.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise errors.BadRequest("Invalid input for field/attribute metadata.")
    wanted: Json = {"size": _size(fields.get("size")), "metadata": metadata}
    for ours, theirs in (
        ("display_name", "name"),
        ("display_description", "description"),
        ("volume_type", "volume_type"),
        ("availability_zone", "availability_zone"),
        ("snapshot_id", "snapshot_id"),
    ):
        value = _text(fields, ours)
        if value is not None:
            wanted[theirs] = value
    made = await _client(st, ctx).call("POST", "/volumes", {"volume": wanted})
    return volume_view(made["volume"])


async def delete(st: ComputeState, ctx: RequestContext, kind: str, item_id: str) -> None:
    await _client(st, ctx).call("DELETE", _path(kind, item_id))


async def list_snapshots(
    st: ComputeState, ctx: RequestContext, params: dict[str, str]
) -> list[Json]:
    found = await _client(st, ctx).call("GET", "/snapshots/detail")
    return _window([snapshot_view(s) for s in found["snapshots"]], params)


async def show_snapshot(st: ComputeState, ctx: RequestContext, snapshot_id: str) -> Json:
    found = await _client(st, ctx).call("GET", _path("snapshots", snapshot_id))
    return snapshot_view(found["snapshot"])


async def create_snapshot(st: ComputeState, ctx: RequestContext, body: Json) -> Json:
    fields = body.get("snapshot")
    if not isinstance(fields, dict) or not isinstance(fields.get("volume_id"), str):
        raise errors.BadRequest("Invalid input: 'snapshot' needs a 'volume_id'.")
    force = fields.get("force", False)
    if str(force).lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise errors.BadRequest(f"Invalid value '{force}' for force.")
    wanted: Json = {
        "volume_id": fields["volume_id"],
        "force": str(force).lower() in ("true", "1", "yes", "on"),
    }
    for ours, theirs in (("display_name", "name"), ("display_description", "description")):
        value = _text(fields, ours)
        if value is not None:
            wanted[theirs] = value
    made = await _client(st, ctx).call("POST", "/snapshots", {"snapshot": wanted})
    return snapshot_view(made["snapshot"])
