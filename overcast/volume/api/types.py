"""/v3/types: volume types (create, list, show, update, delete), their extra specs, their
access lists (`addProjectAccess`/`removeProjectAccess`, `os-volume-type-access`) and the
default type (`/types/default`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.common.http import bodies
from overcast.volume import types as vtypes
from overcast.volume.api import schemas, views
from overcast.volume.api.deps import Req, req
from overcast.volume.models.types import TypeAccess, VolumeType

router = APIRouter(prefix="/v3")
MANAGE = "volume_extension:types_manage"


@router.post("/types")
async def create(request: Request, r: Req = Depends(req)) -> Any:
    data = schemas.obj(await bodies.json_object(request), "volume_type")
    r.enforce(MANAGE)
    name = schemas.text(data.get("name"), "name", nullable=False)
    if not name or not name.strip():
        raise schemas.invalid("name", name, "Name must not be blank.")
    description = schemas.text(data.get("description"), "description")
    is_public = schemas.boolean(
        data.get("os-volume-type-access:is_public", data.get("is_public", True)), "is_public"
    )
    specs = vtypes.check_specs(data.get("extra_specs") or {})
    async with r.state.db.session() as session:
        await vtypes.check_name_free(session, name)
        vtype = VolumeType(
            name=name,
            description=description,
            is_public=is_public,
            extra_specs=specs,
            created_at=utcnow(),
        )
        session.add(vtype)
        await session.flush()
        return {"volume_type": views.volume_type(r, vtype, "create")}


@router.get("/types")
async def index(request: Request, r: Req = Depends(req)) -> Any:
    r.enforce("volume_extension:type_get_all")
    params = request.query_params
    admin = r.allowed(MANAGE)
    stmt = select(VolumeType).where(*vtypes.visible(r.project_id, admin))
    if admin and "is_public" in params and params["is_public"].lower() != "none":
        stmt = stmt.where(
            VolumeType.is_public.is_(schemas.boolean(params["is_public"], "is_public"))
        )
    async with r.state.db.reader() as session:
        rows = list(
            (await session.execute(stmt.order_by(VolumeType.created_at, VolumeType.id))).scalars()
        )
    wanted = None
    if "extra_specs" in params and r.at_least("3.52"):
        import json

        try:
            wanted = json.loads(params["extra_specs"])
        except ValueError as exc:
            raise errors.BadRequest("Invalid input received: extra_specs must be JSON.") from exc
        rows = [
            t for t in rows if all(str(t.extra_specs.get(k)) == str(v) for k, v in wanted.items())
        ]
    return {"volume_types": [views.volume_type(r, t) for t in rows]}


@router.get("/types/default")
async def show_default(r: Req = Depends(req)) -> Any:
    r.enforce("volume_extension:type_get")
    async with r.state.db.reader() as session:
        vtype = await vtypes.default(
            session, r.project_id, r.state.settings.volume.default_volume_type
        )
    return {"volume_type": views.volume_type(r, vtype)}


async def _get(r: Req, session: Any, type_id: str) -> VolumeType:
    return await vtypes.get(session, type_id, r.project_id, r.allowed(MANAGE), by_name=False)


@router.get("/types/{type_id}")
async def show(type_id: str, r: Req = Depends(req)) -> Any:
    r.enforce("volume_extension:type_get")
    async with r.state.db.reader() as session:
        return {"volume_type": views.volume_type(r, await _get(r, session, type_id))}


@router.put("/types/{type_id}")
async def update(type_id: str, request: Request, r: Req = Depends(req)) -> Any:
    data = schemas.obj(await bodies.json_object(request), "volume_type")
    r.enforce(MANAGE)
    if not any(k in data for k in ("name", "description", "is_public")):
        raise errors.BadRequest(
            "Specify volume type name, description, is_public or a combination thereof."
        )
    async with r.state.db.session() as session:
        vtype = await _get(r, session, type_id)
        if "name" in data:
            name = schemas.text(data["name"], "name", nullable=False)
            if not name or not name.strip():
                raise schemas.invalid("name", name, "Name must not be blank.")
            if vtype.name == "__DEFAULT__" and name != vtype.name:
                raise errors.BadRequest("The default volume type cannot be renamed.")
            await vtypes.check_name_free(session, name, vtype.id)
            vtype.name = name
        if "description" in data:
            vtype.description = schemas.text(data["description"], "description")
        if "is_public" in data:
            vtype.is_public = schemas.boolean(data["is_public"], "is_public")
        vtype.updated_at = utcnow()
        return {"volume_type": views.volume_type(r, vtype, "update")}


@router.delete("/types/{type_id}", status_code=202)
async def delete(type_id: str, r: Req = Depends(req)) -> Response:
    r.enforce(MANAGE)
    async with r.state.db.session() as session:
        await vtypes.delete(session, await _get(r, session, type_id))
    return Response(status_code=202)


# -- extra specs -------------------------------------------------------------------------


@router.get("/types/{type_id}/extra_specs")
async def specs(type_id: str, r: Req = Depends(req)) -> Any:
    r.enforce("volume_extension:type_get")
    async with r.state.db.reader() as session:
        vtype = await _get(r, session, type_id)
    return {"extra_specs": views.volume_type(r, vtype)["extra_specs"]}


@router.post("/types/{type_id}/extra_specs")
async def set_specs(type_id: str, request: Request, r: Req = Depends(req)) -> Any:
    new = vtypes.check_specs(schemas.obj(await bodies.json_object(request), "extra_specs"))
    r.enforce(MANAGE)
    async with r.state.db.session() as session:
        vtype = await _get(r, session, type_id)
        vtype.extra_specs = {**vtype.extra_specs, **new}
        vtype.updated_at = utcnow()
    return {"extra_specs": new}


@router.get("/types/{type_id}/extra_specs/{key}")
async def spec(type_id: str, key: str, r: Req = Depends(req)) -> Any:
    r.enforce("volume_extension:type_get")
    async with r.state.db.reader() as session:
        vtype = await _get(r, session, type_id)
    shown = views.volume_type(r, vtype)["extra_specs"]
    if key not in shown:
        raise errors.NotFound(f"Volume Type {type_id} has no extra specs with key {key}.")
    return {key: shown[key]}


@router.put("/types/{type_id}/extra_specs/{key}")
async def set_spec(type_id: str, key: str, request: Request, r: Req = Depends(req)) -> Any:
    new = vtypes.check_specs(await bodies.json_object(request))
    if list(new) != [key]:
        raise errors.BadRequest("Request body and URI mismatch")
    r.enforce(MANAGE)
    async with r.state.db.session() as session:
        vtype = await _get(r, session, type_id)
        vtype.extra_specs = {**vtype.extra_specs, **new}
    return new


@router.delete("/types/{type_id}/extra_specs/{key}", status_code=202)
async def delete_spec(type_id: str, key: str, r: Req = Depends(req)) -> Response:
    r.enforce(MANAGE)
    async with r.state.db.session() as session:
        vtype = await _get(r, session, type_id)
        if key not in vtype.extra_specs:
            raise errors.NotFound(f"Volume Type {type_id} has no extra specs with key {key}.")
        vtype.extra_specs = {k: v for k, v in vtype.extra_specs.items() if k != key}
    return Response(status_code=202)


# -- access ------------------------------------------------------------------------------


@router.get("/types/{type_id}/os-volume-type-access")
async def access(type_id: str, r: Req = Depends(req)) -> Any:
    r.enforce("volume_extension:volume_type_access")
    async with r.state.db.reader() as session:
        vtype = await _get(r, session, type_id)
        if vtype.is_public:
            raise errors.NotFound("Access list not available for public volume types.")
        rows = await session.execute(select(TypeAccess).where(TypeAccess.volume_type_id == type_id))
        return {
            "volume_type_access": [
                {"volume_type_id": a.volume_type_id, "project_id": a.project_id}
                for a in rows.scalars()
            ]
        }


@router.post("/types/{type_id}/action", status_code=202)
async def act(type_id: str, request: Request, r: Req = Depends(req)) -> Response:
    body = await bodies.json_object(request)
    name = next(iter(body), None)
    if name not in ("addProjectAccess", "removeProjectAccess"):
        raise errors.BadRequest(f"Invalid input received: There is no such action: {name}")
    args = body[name] if isinstance(body[name], dict) else {}
    project = schemas.text(args.get("project"), "project", nullable=False)
    r.enforce(f"volume_extension:volume_type_access:{name}")
    async with r.state.db.session() as session:
        vtype = await _get(r, session, type_id)
        if vtype.is_public:
            raise errors.BadRequest(
                "Invalid volume type: Type access modification is not applicable to public volume type."
            )
        found = await session.scalar(
            select(TypeAccess).where(
                TypeAccess.volume_type_id == type_id, TypeAccess.project_id == project
            )
        )
        if name == "addProjectAccess":
            if found is not None:
                raise errors.Conflict(
                    f"Volume type access for {type_id} / {project} combination already exists."
                )
            session.add(TypeAccess(volume_type_id=type_id, project_id=project))
        else:
            if found is None:
                raise errors.NotFound(
                    f"Volume type access not found for {type_id} / {project} combination."
                )
            await session.delete(found)
    return Response(status_code=202)
