"""Nova's proxies to the block storage service, up to microversion 2.35 (Nova removed them at
2.36): `os-volumes` and `os-snapshots`, with their `detail` lists (`limit` and `offset` as Nova
takes them). `compute.volume_proxy` does the translating."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from overcast.compute import volume_proxy as volumes
from overcast.compute.api.deps import Req, json_body
from overcast.compute.api.proxied import accepted, proxied
from overcast.compute.api.servers import _json

router = APIRouter(prefix="/v2.1")
RULE = "os_compute_api:os-volumes"


@router.get("/os-volumes")
@router.get("/os-volumes/detail")
async def list_volumes(request: Request, r: Req = proxied(f"{RULE}:list")) -> Response:
    found = await volumes.list_volumes(r.state, r.ctx, dict(request.query_params))
    return _json({"volumes": found})


@router.post("/os-volumes")
async def create_volume(request: Request, r: Req = proxied(f"{RULE}:create")) -> Response:
    made = await volumes.create_volume(r.state, r.ctx, await json_body(request))
    return _json({"volume": made})


@router.get("/os-volumes/{volume_id}")
async def show_volume(volume_id: str, r: Req = proxied(f"{RULE}:show")) -> Response:
    return _json({"volume": await volumes.show_volume(r.state, r.ctx, volume_id)})


@router.delete("/os-volumes/{volume_id}")
async def delete_volume(volume_id: str, r: Req = proxied(f"{RULE}:delete")) -> Response:
    await volumes.delete(r.state, r.ctx, "volumes", volume_id)
    return accepted()


@router.get("/os-snapshots")
@router.get("/os-snapshots/detail")
async def list_snapshots(request: Request, r: Req = proxied(f"{RULE}:snapshots:list")) -> Response:
    found = await volumes.list_snapshots(r.state, r.ctx, dict(request.query_params))
    return _json({"snapshots": found})


@router.post("/os-snapshots")
async def create_snapshot(
    request: Request, r: Req = proxied(f"{RULE}:snapshots:create")
) -> Response:
    made = await volumes.create_snapshot(r.state, r.ctx, await json_body(request))
    return _json({"snapshot": made})


@router.get("/os-snapshots/{snapshot_id}")
async def show_snapshot(snapshot_id: str, r: Req = proxied(f"{RULE}:snapshots:show")) -> Response:
    return _json({"snapshot": await volumes.show_snapshot(r.state, r.ctx, snapshot_id)})


@router.delete("/os-snapshots/{snapshot_id}")
async def delete_snapshot(
    snapshot_id: str, r: Req = proxied(f"{RULE}:snapshots:delete")
) -> Response:
    await volumes.delete(r.state, r.ctx, "snapshots", snapshot_id)
    return accepted()
