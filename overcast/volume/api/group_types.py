"""/v3/group_types (3.11+): group types (create, list, show, default, update, delete) and
their group specs, as Cinder serves them; managing them is for admins."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.common.http import bodies, pagination
from overcast.volume import groups
from overcast.volume import types as vtypes
from overcast.volume.api import schemas
from overcast.volume.api.deps import Req, req
from overcast.volume.api.group_views import group_type as view
from overcast.volume.models.groups import GroupType

router = APIRouter(prefix="/v3")
MANAGE = "group:group_types_manage"
SPECS = "group:group_types_specs"


def _name(value: Any) -> str:
    name = schemas.text(value, "name", nullable=False)
    if not name or not name.strip():
        raise schemas.invalid("name", value, "Name must not be blank.")
    return name


async def _get(r: Req, session: AsyncSession, type_id: str) -> GroupType:
    return await groups.get_type(session, type_id, r.allowed(MANAGE), by_name=False)


@router.post("/group_types", status_code=202)
async def create(request: Request, r: Req = Depends(req)) -> Any:
    r.require("3.11")
    data = schemas.obj(await bodies.json_object(request), "group_type")
    r.enforce(MANAGE)
    name = _name(data.get("name"))
    description = schemas.text(data.get("description"), "description")
    is_public = schemas.boolean(data.get("is_public", True), "is_public")
    specs = vtypes.check_specs(data.get("group_specs") or {})
    async with r.state.db.session() as session:
        await groups.check_type_name_free(session, name)
        gtype = GroupType(
            name=name, description=description, is_public=is_public, group_specs=specs
        )
        session.add(gtype)
        await session.flush()
        return {"group_type": view(r, gtype)}


@router.get("/group_types")
async def index(request: Request, r: Req = Depends(req)) -> Any:
    r.require("3.11")
    r.enforce("group:group_types:show")
    admin = r.allowed(MANAGE)
    stmt = select(GroupType).where(GroupType.deleted.is_(False))
    params = request.query_params
    if not admin:
        stmt = stmt.where(GroupType.is_public.is_(True))
    elif params.get("is_public", "none").lower() != "none":
        stmt = stmt.where(
            GroupType.is_public.is_(schemas.boolean(params["is_public"], "is_public"))
        )
    async with r.state.db.reader() as session:
        sort = schemas.sort(params, ("name", "id", "created_at", "is_public"), "created_at")
        rows = await pagination.page(
            session, stmt, GroupType, limit=None, marker=params.get("marker"), sort=sort
        )
        return {"group_types": [view(r, t) for t in rows]}


@router.get("/group_types/default")
async def show_default(r: Req = Depends(req)) -> Any:
    r.require("3.11")
    r.enforce("group:group_types:show")
    name = r.state.settings.volume.default_group_type
    async with r.state.db.reader() as session:
        found = None
        if name:
            found = await session.scalar(
                select(GroupType).where(GroupType.name == name, GroupType.deleted.is_(False))
            )
    if found is None:
        raise errors.NotFound("Default group type can not be found.")
    return {"group_type": view(r, found)}


@router.get("/group_types/{type_id}")
async def show(type_id: str, r: Req = Depends(req)) -> Any:
    r.require("3.11")
    r.enforce("group:group_types:show")
    async with r.state.db.reader() as session:
        return {"group_type": view(r, await _get(r, session, type_id))}


@router.put("/group_types/{type_id}")
async def update(type_id: str, request: Request, r: Req = Depends(req)) -> Any:
    r.require("3.11")
    data = schemas.obj(await bodies.json_object(request), "group_type")
    r.enforce(MANAGE)
    if not any(k in data for k in ("name", "description", "is_public")):
        raise errors.BadRequest(
            "Specify group type name, description, is_public or a combination thereof."
        )
    async with r.state.db.session() as session:
        gtype = await _get(r, session, type_id)
        if "name" in data:
            name = _name(data["name"])
            await groups.check_type_name_free(session, name, gtype.id)
            gtype.name = name
        if "description" in data:
            gtype.description = schemas.text(data["description"], "description")
        if "is_public" in data:
            gtype.is_public = schemas.boolean(data["is_public"], "is_public")
        gtype.updated_at = utcnow()
        return {"group_type": view(r, gtype)}


@router.delete("/group_types/{type_id}", status_code=202)
async def delete(type_id: str, r: Req = Depends(req)) -> Response:
    r.require("3.11")
    r.enforce(MANAGE)
    async with r.state.db.session() as session:
        await groups.delete_type(session, await _get(r, session, type_id))
    return Response(status_code=202)


# -- group specs ---------------------------------------------------------------------------


@router.get("/group_types/{type_id}/group_specs")
async def specs(type_id: str, r: Req = Depends(req)) -> Any:
    r.require("3.11")
    r.enforce(SPECS)
    async with r.state.db.reader() as session:
        return {"group_specs": dict((await _get(r, session, type_id)).group_specs or {})}


@router.post("/group_types/{type_id}/group_specs", status_code=202)
async def set_specs(type_id: str, request: Request, r: Req = Depends(req)) -> Any:
    r.require("3.11")
    new = vtypes.check_specs(schemas.obj(await bodies.json_object(request), "group_specs"))
    r.enforce(SPECS)
    async with r.state.db.session() as session:
        gtype = await _get(r, session, type_id)
        gtype.group_specs = {**gtype.group_specs, **new}
        gtype.updated_at = utcnow()
    return {"group_specs": new}


@router.get("/group_types/{type_id}/group_specs/{key}")
async def spec(type_id: str, key: str, r: Req = Depends(req)) -> Any:
    r.require("3.11")
    r.enforce(SPECS)
    async with r.state.db.reader() as session:
        found = (await _get(r, session, type_id)).group_specs or {}
    if key not in found:
        raise errors.NotFound(f"Group Type {type_id} has no specs with key {key}.")
    return {key: found[key]}


@router.put("/group_types/{type_id}/group_specs/{key}")
async def set_spec(type_id: str, key: str, request: Request, r: Req = Depends(req)) -> Any:
    r.require("3.11")
    new = vtypes.check_specs(await bodies.json_object(request))
    if list(new) != [key]:
        raise errors.BadRequest("Request body and URI mismatch")
    r.enforce(SPECS)
    async with r.state.db.session() as session:
        gtype = await _get(r, session, type_id)
        gtype.group_specs = {**gtype.group_specs, **new}
        gtype.updated_at = utcnow()
    return new


@router.delete("/group_types/{type_id}/group_specs/{key}", status_code=202)
async def delete_spec(type_id: str, key: str, r: Req = Depends(req)) -> Response:
    r.require("3.11")
    r.enforce(SPECS)
    async with r.state.db.session() as session:
        gtype = await _get(r, session, type_id)
        if key not in (gtype.group_specs or {}):
            raise errors.NotFound(f"Group Type {type_id} has no specs with key {key}.")
        gtype.group_specs = {k: v for k, v in gtype.group_specs.items() if k != key}
    return Response(status_code=202)
