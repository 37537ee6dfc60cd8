"""/servers/{id}/metadata: the server's user metadata, as a whole or key by key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.common import errors
from overcast.compute import quotas, servers
from overcast.compute.api import schemas
from overcast.compute.api.deps import Req, json_body, req
from overcast.compute.api.servers import _json

router = APIRouter(prefix="/v2.1")


async def _change(r: Req, uuid: str, rule: str, change: Any) -> dict[str, str]:
    async with r.state.db.session() as session:
        inst = await servers.get(session, r.ctx, uuid)
        r.enforce(f"os_compute_api:server-metadata:{rule}", {"project_id": inst.project_id})
        servers.check_not_locked(inst, r.ctx)
        metadata = change(dict(inst.metadata_ or {}))
        await quotas.check_limit(session, inst.project_id, "metadata_items", len(metadata))
        inst.metadata_ = metadata
    return dict(metadata)


@router.get("/servers/{server_id}/metadata")
async def index(server_id: str, r: Req = Depends(req)) -> Response:
    async with r.state.db.reader() as session:
        inst = await servers.get(session, r.ctx, server_id)
    r.enforce("os_compute_api:server-metadata:index", {"project_id": inst.project_id})
    return _json({"metadata": dict(inst.metadata_ or {})})


@router.post("/servers/{server_id}/metadata")
async def create(server_id: str, request: Request, r: Req = Depends(req)) -> Response:
    new = schemas.metadata((await json_body(request)).get("metadata"))
    return _json({"metadata": await _change(r, server_id, "create", lambda m: {**m, **new})})


@router.put("/servers/{server_id}/metadata")
async def update_all(server_id: str, request: Request, r: Req = Depends(req)) -> Response:
    new = schemas.metadata((await json_body(request)).get("metadata"))
    return _json({"metadata": await _change(r, server_id, "update_all", lambda _m: new)})


@router.get("/servers/{server_id}/metadata/{key}")
async def show(server_id: str, key: str, r: Req = Depends(req)) -> Response:
    async with r.state.db.reader() as session:
        inst = await servers.get(session, r.ctx, server_id)
    r.enforce("os_compute_api:server-metadata:show", {"project_id": inst.project_id})
    if key not in (inst.metadata_ or {}):
        raise errors.NotFound("Metadata item was not found")
    return _json({"meta": {key: inst.metadata_[key]}})


@router.put("/servers/{server_id}/metadata/{key}")
async def update(server_id: str, key: str, request: Request, r: Req = Depends(req)) -> Response:
    meta = schemas.metadata((await json_body(request)).get("meta"), "meta")
    if len(meta) != 1:
        raise errors.BadRequest("Request body contains too many items")
    if key not in meta:
        raise errors.BadRequest("Request body and URI mismatch")
    await _change(r, server_id, "update", lambda m: {**m, **meta})
    return _json({"meta": meta})


@router.delete("/servers/{server_id}/metadata/{key}", status_code=204)
async def delete(server_id: str, key: str, r: Req = Depends(req)) -> Response:
    def drop(m: dict[str, str]) -> dict[str, str]:
        if key not in m:
            raise errors.NotFound("Metadata item was not found")
        return {k: v for k, v in m.items() if k != key}

    await _change(r, server_id, "delete", drop)
    return Response(status_code=204)
