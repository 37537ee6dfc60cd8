"""/v3/snapshots: create, list (and detail), show, update, delete, and the snapshot actions
(`os-reset_status`, `os-force_delete`, `os-update_snapshot_status`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.common.http import bodies, pagination
from overcast.volume import listing, rpc, snapshots, volumes
from overcast.volume.api import schemas, views
from overcast.volume.api.deps import Req, req
from overcast.volume.models.volumes import Snapshot, Volume

router = APIRouter(prefix="/v3")

FIELDS = {
    "name": "name",
    "display_name": "name",
    "status": "status",
    "volume_id": "volume_id",
    "project_id": "project_id",
    "group_snapshot_id": "group_snapshot_id",
}
SORT_KEYS = ("created_at", "updated_at", "id", "name", "status", "volume_id")


@router.post("/snapshots", status_code=202)
async def create(request: Request, r: Req = Depends(req)) -> Any:
    data = schemas.obj(await bodies.json_object(request), "snapshot")
    volume_id = schemas.uuid_(data.get("volume_id"), "volume_id")
    if volume_id is None:
        raise volumes.not_found("None")
    name = schemas.name(data.get("name", data.get("display_name")))
    description = schemas.text(
        data.get("description", data.get("display_description")), "description"
    )
    force = schemas.boolean(data.get("force", False), "force")
    metadata = schemas.metadata(data.get("metadata"))
    async with r.state.db.session() as session:
        volume = await volumes.get(session, str(volume_id), r.project_id, r.ctx.is_admin)
        r.enforce("volume:create_snapshot", r.target(volume.project_id))
        snap = await snapshots.create(
            r.state,
            session,
            r.bus_ctx,
            volume,
            name=name,
            description=description,
            metadata=metadata,
            force=force,
            in_use_ok=r.at_least("3.66"),
        )
        backend = volume.backend
        body = {"snapshot": views.snapshot(r, snap, read=False)}
    if backend:
        await rpc.cast_agent(
            r.state.bus, backend, "create_snapshot", r.bus_ctx, snapshot_id=snap.id
        )
    return bodies.json_response(body, 202)


async def _list(request: Request, r: Req, detail: bool) -> Any:
    r.enforce("volume:get_all_snapshots")
    params = dict(request.query_params)
    stmt = select(Snapshot).where(Snapshot.deleted.is_(False))
    all_tenants = params.pop("all_tenants", None)
    if not (r.ctx.is_admin and (all_tenants or params.get("project_id"))):
        stmt = stmt.where(Snapshot.project_id == r.project_id)
    limit = schemas.limit(params.get("limit"), r.state.settings.volume.max_list_limit)
    sort = schemas.sort(params, SORT_KEYS)
    filters = {
        k: v
        for k, v in params.items()
        if k not in ("limit", "marker", "sort", "sort_key", "sort_dir", "offset")
    }
    stmt, meta = listing.apply(
        stmt, Snapshot, filters, FIELDS, time_filters=r.at_least("3.60"), like=r.at_least("3.34")
    )
    async with r.state.db.reader() as session:
        rows = await listing.page(session, stmt, Snapshot, params, sort, limit, meta)
    items = [views.snapshot(r, s) for s in rows]
    if not detail:
        items = [{k: v for k, v in s.items() if not k.startswith("os-")} for s in items]
    body: dict[str, Any] = {"snapshots": items}
    link = pagination.next_link(
        r.url("/snapshots/detail" if detail else "/snapshots"), params, rows, limit
    )
    if link:
        body["snapshots_links"] = [{"href": link, "rel": "next"}]
    return body


@router.get("/snapshots")
async def index(request: Request, r: Req = Depends(req)) -> Any:
    return await _list(request, r, detail=False)


@router.get("/snapshots/detail")
async def detail(request: Request, r: Req = Depends(req)) -> Any:
    return await _list(request, r, detail=True)


@router.get("/snapshots/{snapshot_id}")
async def show(snapshot_id: str, r: Req = Depends(req)) -> Any:
    async with r.state.db.reader() as session:
        snap = await snapshots.get(session, snapshot_id, r.project_id, r.ctx.is_admin)
    r.enforce("volume:get_snapshot", r.target(snap.project_id))
    return {"snapshot": views.snapshot(r, snap)}


@router.put("/snapshots/{snapshot_id}")
async def update(snapshot_id: str, request: Request, r: Req = Depends(req)) -> Any:
    data = schemas.obj(await bodies.json_object(request), "snapshot")
    unknown = set(data) - {"name", "description", "display_name", "display_description"}
    if unknown or not data:
        raise errors.BadRequest(
            f"Invalid input for field/attribute snapshot. Additional properties are not allowed ({', '.join(sorted(unknown)) or 'empty'})."
        )
    async with r.state.db.session() as session:
        snap = await snapshots.get(session, snapshot_id, r.project_id, r.ctx.is_admin)
        r.enforce("volume:update_snapshot", r.target(snap.project_id))
        if "name" in data or "display_name" in data:
            snap.name = schemas.name(data.get("name", data.get("display_name")))
        if "description" in data or "display_description" in data:
            snap.description = schemas.text(
                data.get("description", data.get("display_description")), "description"
            )
        snap.updated_at = utcnow()
        return {"snapshot": views.snapshot(r, snap, read=False)}


async def _delete(r: Req, snapshot_id: str, force: bool) -> None:
    async with r.state.db.session() as session:
        snap = await snapshots.get(session, snapshot_id, r.project_id, r.ctx.is_admin)
        rule = (
            "volume_extension:snapshot_admin_actions:force_delete"
            if force
            else "volume:delete_snapshot"
        )
        r.enforce(rule, r.target(snap.project_id))
        await snapshots.start_delete(session, snap, force)
        volume = await session.get(Volume, snap.volume_id)
        backend = volume.backend if volume else None
    if backend:
        await rpc.cast_agent(
            r.state.bus, backend, "delete_snapshot", r.bus_ctx, snapshot_id=snapshot_id
        )


@router.delete("/snapshots/{snapshot_id}", status_code=202)
async def delete(snapshot_id: str, r: Req = Depends(req)) -> Response:
    await _delete(r, snapshot_id, force=False)
    return Response(status_code=202)


_SNAP_STATUSES = (
    "available",
    "error",
    "creating",
    "deleting",
    "error_deleting",
    "backing-up",
    "restoring",
    "unmanaging",
)


@router.post("/snapshots/{snapshot_id}/action", status_code=202)
async def act(snapshot_id: str, request: Request, r: Req = Depends(req)) -> Response:
    body = await bodies.json_object(request)
    if "os-force_delete" in body:
        await _delete(r, snapshot_id, force=True)
        return Response(status_code=202)
    if "os-reset_status" in body:
        args = body["os-reset_status"] if isinstance(body["os-reset_status"], dict) else {}
        status = schemas.choice(args.get("status"), "status", _SNAP_STATUSES)
        async with r.state.db.session() as session:
            snap = await snapshots.get(session, snapshot_id, r.project_id, r.ctx.is_admin)
            r.enforce(
                "volume_extension:snapshot_admin_actions:reset_status", r.target(snap.project_id)
            )
            snap.status = status
            snap.updated_at = utcnow()
        return Response(status_code=202)
    if "os-update_snapshot_status" in body:
        await _update_status(r, snapshot_id, body["os-update_snapshot_status"])
        return Response(status_code=202)
    raise errors.BadRequest(f"Invalid input received: There is no such action: {', '.join(body)}")


# What compute may report while it makes a snapshot for Cinder (assisted snapshots).
_UPDATES = {
    "creating": ("creating", "available", "error"),
    "deleting": ("deleting", "error_deleting"),
}


async def _update_status(r: Req, snapshot_id: str, args: Any) -> None:
    if not isinstance(args, dict):
        raise errors.BadRequest("Invalid input received: os-update_snapshot_status needs status.")
    status = schemas.choice(
        args.get("status"),
        "status",
        ("creating", "available", "error", "deleting", "error_deleting"),
    )
    progress = schemas.text(args.get("progress"), "progress", max_len=16)
    async with r.state.db.session() as session:
        snap = await snapshots.get(session, snapshot_id, r.project_id, r.ctx.is_admin)
        r.enforce(
            "snapshot_extension:snapshot_actions:update_snapshot_status", r.target(snap.project_id)
        )
        if status not in _UPDATES.get(snap.status, ()):
            raise errors.BadRequest(
                f"Invalid input received: Snapshot status {snap.status} not allowed for"
                " update_snapshot_status"
            )
        snap.status = status
        if progress is not None:
            snap.progress = progress
        snap.updated_at = utcnow()
