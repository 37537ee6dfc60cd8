"""Metadata of volumes and snapshots: /v3/{volumes,snapshots}/{id}/metadata[/{key}] (list,
replace, merge, show, set one, delete one), one set of routes for both resources."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.common.http import bodies
from overcast.volume import snapshots, volumes
from overcast.volume.api import schemas
from overcast.volume.api.deps import Req, req

router = APIRouter(prefix="/v3")

_RULES = {
    "volumes": (
        "volume:get_volume_metadata",
        "volume:update_volume_metadata",
        "volume:delete_volume_metadata",
    ),
    "snapshots": (
        "volume:get_snapshot_metadata",
        "volume:update_snapshot_metadata",
        "volume:delete_snapshot_metadata",
    ),
}


async def _owner(r: Req, session: AsyncSession, kind: str, resource_id: str) -> Any:
    if kind == "volumes":
        return await volumes.get(session, resource_id, r.project_id, r.ctx.is_admin)
    if kind == "snapshots":
        return await snapshots.get(session, resource_id, r.project_id, r.ctx.is_admin)
    raise errors.NotFound("The resource could not be found.")


def _check_writable(kind: str, owner: Any) -> None:
    if kind == "volumes" and owner.status in ("maintenance", "uploading", "deleting"):
        raise errors.BadRequest(
            f"Invalid volume: Volume {owner.id} is {owner.status}; its metadata cannot change now."
        )


@router.get("/{kind}/{resource_id}/metadata")
async def index(kind: str, resource_id: str, r: Req = Depends(req)) -> Any:
    async with r.state.db.reader() as session:
        owner = await _owner(r, session, kind, resource_id)
    r.enforce(_RULES[kind][0], r.target(owner.project_id))
    return {"metadata": dict(owner.metadata_ or {})}


async def _write(kind: str, resource_id: str, request: Request, r: Req, replace: bool) -> Any:
    meta = schemas.metadata(schemas.obj(await bodies.json_object(request), "metadata"))
    async with r.state.db.session() as session:
        owner = await _owner(r, session, kind, resource_id)
        r.enforce(_RULES[kind][1], r.target(owner.project_id))
        _check_writable(kind, owner)
        owner.metadata_ = meta if replace else {**(owner.metadata_ or {}), **meta}
        owner.updated_at = utcnow()
        return {"metadata": dict(owner.metadata_)}


@router.put("/{kind}/{resource_id}/metadata")
async def replace(kind: str, resource_id: str, request: Request, r: Req = Depends(req)) -> Any:
    return await _write(kind, resource_id, request, r, replace=True)


@router.post("/{kind}/{resource_id}/metadata")
async def merge(kind: str, resource_id: str, request: Request, r: Req = Depends(req)) -> Any:
    return await _write(kind, resource_id, request, r, replace=False)


@router.get("/{kind}/{resource_id}/metadata/{key}")
async def show(kind: str, resource_id: str, key: str, r: Req = Depends(req)) -> Any:
    async with r.state.db.reader() as session:
        owner = await _owner(r, session, kind, resource_id)
    r.enforce(_RULES[kind][0], r.target(owner.project_id))
    if key not in (owner.metadata_ or {}):
        raise errors.NotFound(f"Metadata item was not found: {key}")
    return {"meta": {key: owner.metadata_[key]}}


@router.put("/{kind}/{resource_id}/metadata/{key}")
async def set_one(
    kind: str, resource_id: str, key: str, request: Request, r: Req = Depends(req)
) -> Any:
    meta = schemas.metadata(schemas.obj(await bodies.json_object(request), "meta"), "meta")
    if list(meta) != [key]:
        raise errors.BadRequest("Request body and URI mismatch")
    async with r.state.db.session() as session:
        owner = await _owner(r, session, kind, resource_id)
        r.enforce(_RULES[kind][1], r.target(owner.project_id))
        _check_writable(kind, owner)
        owner.metadata_ = {**(owner.metadata_ or {}), **meta}
        owner.updated_at = utcnow()
    return {"meta": meta}


@router.delete("/{kind}/{resource_id}/metadata/{key}")
async def delete(kind: str, resource_id: str, key: str, r: Req = Depends(req)) -> Response:
    async with r.state.db.session() as session:
        owner = await _owner(r, session, kind, resource_id)
        r.enforce(_RULES[kind][2], r.target(owner.project_id))
        _check_writable(kind, owner)
        if key not in (owner.metadata_ or {}):
            raise errors.NotFound(f"Metadata item was not found: {key}")
        owner.metadata_ = {k: v for k, v in owner.metadata_.items() if k != key}
        owner.updated_at = utcnow()
    return Response(status_code=200)
