"""/v3/group_snapshots (3.14+): create (a snapshot of every volume of a group, together),
list (and detail), show, delete, and reset_status (3.19, admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.common.http import bodies
from overcast.volume import group_snapshots, groups, rpc
from overcast.volume.api import lists, schemas
from overcast.volume.api.deps import Req, req
from overcast.volume.api.group_views import group_snapshot as view
from overcast.volume.models.groups import GroupSnapshot

router = APIRouter(prefix="/v3")

FIELDS = {"name": "name", "status": "status", "group_id": "group_id"}
SORT_KEYS = ("created_at", "updated_at", "id", "name", "status")


@router.post("/group_snapshots", status_code=202)
async def create(request: Request, r: Req = Depends(req)) -> Response:
    r.require("3.14")
    data = schemas.obj(await bodies.json_object(request), "group_snapshot")
    group_id = schemas.uuid_(data.get("group_id"), "group_id", nullable=False)
    name = schemas.name(data.get("name"))
    description = schemas.text(data.get("description"), "description")
    async with r.state.db.session() as session:
        group = await groups.get(session, str(group_id), r.project_id, r.ctx.is_admin)
        r.enforce("group:create_group_snapshot", r.target(group.project_id))
        gsnap = await group_snapshots.create(
            r.state, session, r.bus_ctx, group, name=name, description=description
        )
        backend = group.backend
        body = {"group_snapshot": view(r, gsnap, detail=False)}
    if backend:
        await rpc.cast_agent(
            r.state.bus, backend, "create_group_snapshot", r.bus_ctx, group_snapshot_id=gsnap.id
        )
    return bodies.json_response(body, 202)


async def _list(request: Request, r: Req, detail: bool) -> Any:
    r.require("3.14")
    r.enforce("group:get_all_group_snapshots")
    return await lists.project_list(
        r,
        request,
        GroupSnapshot,
        fields=FIELDS,
        sort_keys=SORT_KEYS,
        path="/group_snapshots/detail" if detail else "/group_snapshots",
        key="group_snapshots",
        render=lambda s: view(r, s, detail=detail),
    )


@router.get("/group_snapshots")
async def index(request: Request, r: Req = Depends(req)) -> Any:
    return await _list(request, r, detail=False)


@router.get("/group_snapshots/detail")
async def detail(request: Request, r: Req = Depends(req)) -> Any:
    return await _list(request, r, detail=True)


@router.get("/group_snapshots/{group_snapshot_id}")
async def show(group_snapshot_id: str, r: Req = Depends(req)) -> Any:
    r.require("3.14")
    async with r.state.db.reader() as session:
        gsnap = await group_snapshots.get(session, group_snapshot_id, r.project_id, r.ctx.is_admin)
    r.enforce("group:get_group_snapshot", r.target(gsnap.project_id))
    return {"group_snapshot": view(r, gsnap)}


@router.delete("/group_snapshots/{group_snapshot_id}", status_code=202)
async def delete(group_snapshot_id: str, r: Req = Depends(req)) -> Response:
    r.require("3.14")
    async with r.state.db.session() as session:
        gsnap = await group_snapshots.get(session, group_snapshot_id, r.project_id, r.ctx.is_admin)
        r.enforce("group:delete_group_snapshot", r.target(gsnap.project_id))
        await group_snapshots.start_delete(session, gsnap)
        group = await groups.get(session, gsnap.group_id, gsnap.project_id, True)
        backend = group.backend
    if backend:
        await rpc.cast_agent(
            r.state.bus,
            backend,
            "delete_group_snapshot",
            r.bus_ctx,
            group_snapshot_id=group_snapshot_id,
        )
    return Response(status_code=202)


@router.post("/group_snapshots/{group_snapshot_id}/action", status_code=202)
async def act(group_snapshot_id: str, request: Request, r: Req = Depends(req)) -> Response:
    r.require("3.19")
    body = await bodies.json_object(request)
    if "reset_status" not in body:
        raise errors.BadRequest(
            f"Invalid input received: There is no such action: {', '.join(body) or 'none'}"
        )
    args = body["reset_status"] if isinstance(body["reset_status"], dict) else {}
    status = schemas.choice(args.get("status"), "status", group_snapshots.STATUSES)
    async with r.state.db.session() as session:
        gsnap = await group_snapshots.get(session, group_snapshot_id, r.project_id, r.ctx.is_admin)
        r.enforce("group:reset_group_snapshot_status", r.target(gsnap.project_id))
        gsnap.status = status
        gsnap.updated_at = utcnow()
    return Response(status_code=202)
