"""/v3/backups: create (full or incremental, of a volume or a snapshot), list (and detail),
show, update (3.9), delete, restore into a new or an existing volume, the admin actions, and
export/import of backup records."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.common.http import bodies
from overcast.volume import backups, listing, rpc, snapshots, volumes
from overcast.volume.api import schemas, views
from overcast.volume.api.deps import Req, req
from overcast.volume.models.backups import Backup
from overcast.volume.scheduler import pools

router = APIRouter(prefix="/v3")

FIELDS = {"name": "name", "status": "status", "volume_id": "volume_id", "project_id": "project_id"}
SORT_KEYS = ("created_at", "updated_at", "id", "name", "status", "size")


@router.post("/backups", status_code=202)
async def create(request: Request, r: Req = Depends(req)) -> Any:
    data = schemas.obj(await bodies.json_object(request), "backup")
    volume_id = schemas.uuid_(data.get("volume_id"), "volume_id", nullable=False)
    snapshot_id = schemas.uuid_(data.get("snapshot_id"), "snapshot_id")
    async with r.state.db.session() as session:
        volume = await volumes.get(session, str(volume_id), r.project_id, r.ctx.is_admin)
        r.enforce("backup:create", r.target(volume.project_id))
        snap = None
        if snapshot_id:
            snap = await snapshots.get(session, snapshot_id, r.project_id, r.ctx.is_admin)
            if snap.volume_id != volume.id:
                raise errors.BadRequest(
                    "Invalid input received: the snapshot is not of the volume."
                )
        backup = await backups.create(
            r.state,
            session,
            r.bus_ctx,
            volume,
            name=schemas.name(data.get("name")),
            description=schemas.text(data.get("description"), "description"),
            container=schemas.text(data.get("container"), "container"),
            incremental=schemas.boolean(data.get("incremental", False), "incremental"),
            force=schemas.boolean(data.get("force", False), "force"),
            snapshot=snap,
            metadata=schemas.metadata(data.get("metadata")) if r.at_least("3.43") else {},
        )
        body = {
            "backup": {"id": backup.id, "name": backup.name, "links": r.links("backups", backup.id)}
        }
        host = backup.host
    if host:
        await rpc.cast_agent(r.state.bus, host, "create_backup", r.bus_ctx, backup_id=backup.id)
    return bodies.json_response(body, 202)


async def _list(request: Request, r: Req, detail: bool) -> Any:
    r.enforce("backup:get_all")
    params = dict(request.query_params)
    stmt = select(Backup).where(Backup.deleted.is_(False))
    if not (r.ctx.is_admin and (params.pop("all_tenants", None) or params.get("project_id"))):
        stmt = stmt.where(Backup.project_id == r.project_id)
    limit = schemas.limit(params.get("limit"), r.state.settings.volume.max_list_limit)
    sort = schemas.sort(params, SORT_KEYS)
    filters = {
        k: v
        for k, v in params.items()
        if k not in ("limit", "marker", "sort", "sort_key", "sort_dir", "offset")
    }
    stmt, meta = listing.apply(
        stmt, Backup, filters, FIELDS, time_filters=r.at_least("3.60"), like=r.at_least("3.34")
    )
    async with r.state.db.reader() as session:
        rows = await listing.page(session, stmt, Backup, params, sort, limit, meta)
        parents = set(
            (
                await session.execute(
                    select(Backup.parent_id).where(
                        Backup.parent_id.in_([b.id for b in rows]), Backup.deleted.is_(False)
                    )
                )
            ).scalars()
        )
    if not detail:
        return {
            "backups": [
                {"id": b.id, "name": b.name, "links": r.links("backups", b.id)} for b in rows
            ]
        }
    return {"backups": [views.backup(r, b, b.id in parents) for b in rows]}


@router.get("/backups")
async def index(request: Request, r: Req = Depends(req)) -> Any:
    return await _list(request, r, detail=False)


@router.get("/backups/detail")
async def detail(request: Request, r: Req = Depends(req)) -> Any:
    return await _list(request, r, detail=True)


@router.get("/backups/{backup_id}")
async def show(backup_id: str, r: Req = Depends(req)) -> Any:
    async with r.state.db.reader() as session:
        backup = await backups.get(session, backup_id, r.project_id, r.ctx.is_admin)
        r.enforce("backup:get", r.target(backup.project_id))
        return {"backup": views.backup(r, backup, await backups.has_dependents(session, backup_id))}


@router.put("/backups/{backup_id}")
async def update(backup_id: str, request: Request, r: Req = Depends(req)) -> Any:
    if not r.at_least("3.9"):
        raise errors.NotFound("The resource could not be found.")
    data = schemas.obj(await bodies.json_object(request), "backup")
    async with r.state.db.session() as session:
        backup = await backups.get(session, backup_id, r.project_id, r.ctx.is_admin)
        r.enforce("backup:update", r.target(backup.project_id))
        if "name" in data:
            backup.name = schemas.name(data["name"])
        if "description" in data:
            backup.description = schemas.text(data["description"], "description")
        if "metadata" in data and r.at_least("3.43"):
            backup.metadata_ = schemas.metadata(data["metadata"])
        backup.updated_at = utcnow()
        out: dict[str, Any] = {
            "id": backup.id,
            "name": backup.name,
            "links": r.links("backups", backup.id),
        }
        if r.at_least("3.43"):
            out["metadata"] = dict(backup.metadata_ or {})
        return {"backup": out}


async def _agent_for(r: Req, backup: Backup) -> str | None:
    """The agent that made the backup, or any live one (it holds the same backup store)."""
    async with r.state.db.reader() as session:
        live = await pools.live(session, r.state.settings.volume.service_down_time)
    backends = {p.backend for p in live}
    if backup.host in backends:
        return backup.host
    return sorted(backends)[0] if backends else None


async def _delete(r: Req, backup_id: str, force: bool) -> None:
    async with r.state.db.session() as session:
        backup = await backups.get(session, backup_id, r.project_id, r.ctx.is_admin)
        rule = "volume_extension:backup_admin_actions:force_delete" if force else "backup:delete"
        r.enforce(rule, r.target(backup.project_id))
        await backups.start_delete(session, backup, force)
    host = await _agent_for(r, backup)
    if host:
        await rpc.cast_agent(r.state.bus, host, "delete_backup", r.bus_ctx, backup_id=backup_id)


@router.delete("/backups/{backup_id}", status_code=202)
async def delete(backup_id: str, r: Req = Depends(req)) -> Response:
    await _delete(r, backup_id, force=False)
    return Response(status_code=202)


@router.post("/backups/{backup_id}/restore", status_code=202)
async def restore(backup_id: str, request: Request, r: Req = Depends(req)) -> Any:
    data = schemas.obj(await bodies.json_object(request), "restore")
    volume_id = schemas.uuid_(data.get("volume_id"), "volume_id")
    name = schemas.name(data.get("name"))
    async with r.state.db.reader() as session:
        backup = await backups.get(session, backup_id, r.project_id, r.ctx.is_admin)
    r.enforce("backup:restore", r.target(backup.project_id))
    if backup.status != "available":
        raise errors.BadRequest(
            f"Invalid backup: Backup status must be available but is {backup.status}."
        )
    if volume_id is None:
        spec = volumes.CreateSpec(
            size=backup.size,
            name=name or f"restore_backup_{backup_id}",
            backup_id=backup_id,
            availability_zone=backup.availability_zone,
        )
        volume = await volumes.create(r.state, r.bus_ctx, spec, r.ctx.is_admin)
        return bodies.json_response(
            {
                "restore": {
                    "backup_id": backup_id,
                    "volume_id": volume.id,
                    "volume_name": volume.name,
                }
            },
            202,
        )
    async with r.state.db.session() as session:
        volume = await volumes.get(session, volume_id, r.project_id, r.ctx.is_admin)
        row = await backups.get(session, backup_id, r.project_id, r.ctx.is_admin)
        volumes.require_status(volume, "available", action="restore a backup into it")
        if volume.size < row.size:
            raise errors.BadRequest(
                f"Invalid volume: volume size {volume.size} is smaller than backup size {row.size}."
            )
        if row.status != "available":
            raise errors.BadRequest(
                f"Invalid backup: Backup status must be available but is {row.status}."
            )
        volume.status = "restoring-backup"
        row.status = "restoring"
        host, volume_name = volume.backend, volume.name
    if host:
        await rpc.cast_agent(
            r.state.bus, host, "restore_backup", r.bus_ctx, backup_id=backup_id, volume_id=volume_id
        )
    return bodies.json_response(
        {"restore": {"backup_id": backup_id, "volume_id": volume_id, "volume_name": volume_name}},
        202,
    )


_STATUSES = ("available", "error", "creating", "deleting", "restoring", "error_deleting")


@router.post("/backups/{backup_id}/action", status_code=202)
async def act(backup_id: str, request: Request, r: Req = Depends(req)) -> Response:
    body = await bodies.json_object(request)
    if "os-force_delete" in body:
        await _delete(r, backup_id, force=True)
        return Response(status_code=202)
    if "os-reset_status" in body:
        args = body["os-reset_status"] if isinstance(body["os-reset_status"], dict) else {}
        status = schemas.choice(args.get("status"), "status", _STATUSES)
        async with r.state.db.session() as session:
            backup = await backups.get(session, backup_id, r.project_id, r.ctx.is_admin)
            r.enforce(
                "volume_extension:backup_admin_actions:reset_status", r.target(backup.project_id)
            )
            backup.status = status
        return Response(status_code=202)
    raise errors.BadRequest(f"Invalid input received: There is no such action: {', '.join(body)}")


@router.get("/backups/{backup_id}/export_record")
async def export(backup_id: str, r: Req = Depends(req)) -> Any:
    async with r.state.db.reader() as session:
        backup = await backups.get(session, backup_id, r.project_id, r.ctx.is_admin)
    r.enforce("backup:backup-export", r.target(backup.project_id))
    if backup.status != "available":
        raise errors.BadRequest(
            f"Invalid backup: Backup status must be available but is {backup.status}."
        )
    return {"backup-record": backups.export_record(backup)}


@router.post("/backups/import_record", status_code=201)
async def import_(request: Request, r: Req = Depends(req)) -> Any:
    data = schemas.obj(await bodies.json_object(request), "backup-record")
    r.enforce("backup:backup-import")
    service = schemas.text(data.get("backup_service"), "backup_service", nullable=False)
    url = schemas.text(data.get("backup_url"), "backup_url", max_len=1 << 20, nullable=False)
    async with r.state.db.session() as session:
        backup = await backups.import_record(
            session, str(service), str(url), r.project_id, r.ctx.user_id or ""
        )
        body = {
            "backup": {"id": backup.id, "name": backup.name, "links": r.links("backups", backup.id)}
        }
    host = await _agent_for(r, backup)
    if host:
        await rpc.cast_agent(r.state.bus, host, "verify_backup", r.bus_ctx, backup_id=backup.id)
    return bodies.json_response(body, 201)
