"""POST /os-assisted-volume-snapshots and DELETE /os-assisted-volume-snapshots/{snapshot_id}:
the block storage service's requests that compute snapshot an attached file-backed volume, or
delete such a snapshot (`compute.assisted_snapshots`). For services and admins (Nova's
`service_or_admin` default). Both answer once the server's host was asked; the host reports
the outcome to the volume service, not here."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.common import errors
from overcast.compute import assisted_snapshots
from overcast.compute.api import inputs
from overcast.compute.api.deps import Req, json_body, req
from overcast.compute.api.servers import _json

router = APIRouter(prefix="/v2.1")
RULE = "os_compute_api:os-assisted-volume-snapshots"
_CREATE_INFO = {"snapshot_id", "type", "new_file", "id"}


def _create_args(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Nova's schema: `snapshot` {volume_id, create_info {snapshot_id, type qcow2,
    new_file, id?}}, nothing else."""
    inputs.only(body, {"snapshot"})
    snapshot = inputs.section(body, "snapshot", {"volume_id", "create_info"})
    volume_id = inputs.string(inputs.required(snapshot, "volume_id", "snapshot"), "volume_id")
    inputs.required(snapshot, "create_info", "snapshot")
    info = inputs.section(snapshot, "create_info", _CREATE_INFO)
    for key in ("snapshot_id", "type", "new_file"):
        inputs.string(inputs.required(info, key, "create_info"), key, max_len=4096)
    if "id" in info:
        inputs.string(info["id"], "id", max_len=4096)
    if info["type"] != "qcow2":
        raise inputs.invalid("type", info["type"], f"{info['type']!r} is not one of ['qcow2']")
    return volume_id, info


@router.post("/os-assisted-volume-snapshots")
async def create(request: Request, r: Req = Depends(req)) -> Response:
    r.enforce(f"{RULE}:create", {})
    volume_id, info = _create_args(await json_body(request))
    await assisted_snapshots.create(r.state, r.ctx, volume_id, info)
    return _json({"snapshot": {"id": info.get("id"), "volumeId": volume_id}})


@router.delete("/os-assisted-volume-snapshots/{snapshot_id}")
async def delete(snapshot_id: str, request: Request, r: Req = Depends(req)) -> Response:
    r.enforce(f"{RULE}:delete", {})
    if r.at_least("2.75"):
        inputs.only(dict(request.query_params), {"delete_info"})
    try:
        info = json.loads(request.query_params["delete_info"])
        volume_id = inputs.string(info["volume_id"], "volume_id")
    except (KeyError, TypeError, ValueError) as exc:
        raise errors.BadRequest(f"delete_info must be JSON naming volume_id: {exc}") from exc
    await assisted_snapshots.delete(r.state, r.ctx, volume_id, snapshot_id, info)
    return Response(status_code=204)
