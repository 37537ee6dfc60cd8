"""/v3/groups (3.13+): create, list (and detail), show, update (rename, add or remove volumes),
and the actions: delete (with or without its volumes), reset_status (3.20), create-from-src
(3.14, from a group snapshot or another group). Replication actions answer as Cinder does for
a group type that is not replication-enabled."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.common.http import bodies
from overcast.volume import group_snapshots, groups, rpc
from overcast.volume.api import lists, schemas
from overcast.volume.api.deps import Req, req
from overcast.volume.api.group_views import group as view
from overcast.volume.models.groups import Group
from overcast.volume.models.volumes import Volume

router = APIRouter(prefix="/v3")

FIELDS = {"name": "name", "status": "status", "availability_zone": "availability_zone"}
SORT_KEYS = ("created_at", "updated_at", "id", "name", "status")
_REPLICATION = (
    "enable_replication",
    "disable_replication",
    "failover_replication",
    "list_replication_targets",
)


def _ids(value: Any, field: str) -> list[str]:
    """Cinder's comma-separated id lists (`add_volumes`, `remove_volumes`)."""
    if value is None or value == "":
        return []
    if not isinstance(value, str):
        raise schemas.invalid(field, value, f"{value!r} is not of type 'string'")
    return [part.strip() for part in value.split(",") if part.strip()]


@router.post("/groups", status_code=202)
async def create(request: Request, r: Req = Depends(req)) -> Response:
    r.require("3.13")
    data = schemas.obj(await bodies.json_object(request), "group")
    r.enforce("group:create")
    group_type = data.get("group_type")
    if not group_type:
        raise errors.BadRequest("group_type must be provided to create group.")
    vtypes = data.get("volume_types")
    if not vtypes:
        raise errors.BadRequest("volume_types must be provided to create group.")
    if not isinstance(vtypes, list) or not all(isinstance(t, str) for t in vtypes):
        raise schemas.invalid("volume_types", vtypes, "volume_types must be a list of strings")
    async with r.state.db.session() as session:
        group = await groups.create(
            r.state,
            session,
            r.bus_ctx,
            r.ctx.is_admin,
            name=schemas.name(data.get("name")),
            description=schemas.text(data.get("description"), "description"),
            group_type=str(schemas.text(group_type, "group_type", nullable=False)),
            volume_types=vtypes,
            availability_zone=schemas.text(data.get("availability_zone"), "availability_zone"),
        )
        body = {"group": view(r, group, detail=False)}
    await rpc.schedule_group(r.state.bus, r.bus_ctx, group.id)
    return bodies.json_response(body, 202)


async def _list(request: Request, r: Req, detail: bool) -> Any:
    r.require("3.13")
    r.enforce("group:get_all")
    return await lists.project_list(
        r,
        request,
        Group,
        fields=FIELDS,
        sort_keys=SORT_KEYS,
        path="/groups/detail" if detail else "/groups",
        key="groups",
        render=lambda g: view(r, g, detail=detail),
    )


@router.get("/groups")
async def index(request: Request, r: Req = Depends(req)) -> Any:
    return await _list(request, r, detail=False)


@router.get("/groups/detail")
async def detail(request: Request, r: Req = Depends(req)) -> Any:
    return await _list(request, r, detail=True)


@router.get("/groups/{group_id}")
async def show(group_id: str, request: Request, r: Req = Depends(req)) -> Any:
    r.require("3.13")
    listed = schemas.boolean(request.query_params.get("list_volume", "false"), "list_volume")
    async with r.state.db.reader() as session:
        group = await groups.get(session, group_id, r.project_id, r.ctx.is_admin)
        r.enforce("group:get", r.target(group.project_id))
        ids = [v.id for v in await groups.members(session, group.id)] if listed else None
        return {"group": view(r, group, volume_ids=ids)}


@router.put("/groups/{group_id}", status_code=202)
async def update(group_id: str, request: Request, r: Req = Depends(req)) -> Response:
    r.require("3.13")
    data = schemas.obj(await bodies.json_object(request), "group")
    keys = {"name", "description", "add_volumes", "remove_volumes"}
    if not keys & set(data):
        raise errors.BadRequest(
            "Name, description, add_volumes, and remove_volumes can not be all empty in the"
            " request body."
        )
    add, remove = (
        _ids(data.get("add_volumes"), "add_volumes"),
        _ids(data.get("remove_volumes"), "remove_volumes"),
    )
    if set(add) & set(remove):
        raise errors.BadRequest(
            "Invalid input received: a volume cannot be both added to and removed from a group."
        )
    async with r.state.db.session() as session:
        group = await groups.get(session, group_id, r.project_id, r.ctx.is_admin)
        r.enforce("group:update", r.target(group.project_id))
        await groups.update(
            session,
            group,
            name=schemas.name(data.get("name")),
            description=schemas.text(data.get("description"), "description"),
            add=add,
            remove=remove,
            changes=set(data),
        )
    return Response(status_code=202)


@router.post("/groups/action", status_code=202)
async def create_from_src(request: Request, r: Req = Depends(req)) -> Response:
    r.require("3.14")
    body = await bodies.json_object(request)
    data = schemas.obj(body, "create-from-src")
    r.enforce("group:create")
    snap_id = schemas.uuid_(data.get("group_snapshot_id"), "group_snapshot_id")
    source_id = schemas.uuid_(data.get("source_group_id"), "source_group_id")
    if bool(snap_id) == bool(source_id):
        raise errors.BadRequest(
            "Invalid input received: Either 'group_snapshot_id' or 'source_group_id' must be"
            " provided to create group from source, but not both."
        )
    async with r.state.db.session() as session:
        group = await group_snapshots.create_from_source(
            r.state,
            session,
            r.bus_ctx,
            r.ctx.is_admin,
            name=schemas.name(data.get("name")),
            description=schemas.text(data.get("description"), "description"),
            group_snapshot_id=snap_id,
            source_group_id=source_id,
        )
        backend = group.backend
        out = {"group": view(r, group, detail=False)}
    if backend:
        await rpc.cast_agent(
            r.state.bus, backend, "create_group_from_source", r.bus_ctx, group_id=group.id
        )
    return bodies.json_response(out, 202)


@router.post("/groups/{group_id}/action", status_code=202)
async def act(group_id: str, request: Request, r: Req = Depends(req)) -> Response:
    r.require("3.13")
    body = await bodies.json_object(request)
    name = next(iter(body), None)
    if name == "delete":
        args = body["delete"] if isinstance(body["delete"], dict) else {}
        delete_volumes = schemas.boolean(args.get("delete-volumes", False), "delete-volumes")
        async with r.state.db.session() as session:
            group = await groups.get(session, group_id, r.project_id, r.ctx.is_admin)
            r.enforce("group:delete", r.target(group.project_id))
            needs_agent = await groups.start_delete(session, group, delete_volumes)
            backend = group.backend or await _any_member_backend(session, group.id)
        if needs_agent and backend:
            await rpc.cast_agent(r.state.bus, backend, "delete_group", r.bus_ctx, group_id=group_id)
        return Response(status_code=202)
    if name == "reset_status":
        r.require("3.20")
        args = body["reset_status"] if isinstance(body["reset_status"], dict) else {}
        status = schemas.choice(args.get("status"), "status", groups.STATUSES)
        async with r.state.db.session() as session:
            group = await groups.get(session, group_id, r.project_id, r.ctx.is_admin)
            r.enforce("group:reset_status", r.target(group.project_id))
            group.status = status
            group.updated_at = utcnow()
        return Response(status_code=202)
    if name in _REPLICATION:
        r.require("3.38")
        async with r.state.db.reader() as session:
            group = await groups.get(session, group_id, r.project_id, r.ctx.is_admin)
        raise errors.BadRequest(
            f"Invalid group type: Group type {group.group_type_id} is not replication-enabled."
        )
    raise errors.BadRequest(f"Invalid input received: There is no such action: {name}")


async def _any_member_backend(session: Any, group_id: str) -> str | None:
    found = await session.scalar(
        select(Volume.host).where(Volume.group_id == group_id, Volume.host.is_not(None))
    )
    return str(found).partition("#")[0] if found else None
