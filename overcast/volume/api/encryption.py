"""/v3/types/{id}/encryption (volume type encryption, kept as data) and /v3/default-types
(3.62: a project's own default volume type)."""

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
from overcast.volume.models.types import DefaultType, Encryption, VolumeType
from overcast.volume.models.volumes import Volume

router = APIRouter(prefix="/v3")
RULE = "volume_extension:volume_type_encryption"


def _view(e: Encryption, created: bool = False) -> dict[str, Any]:
    """As a GET shows it; a create's answer has no timestamps (as Cinder's)."""
    out: dict[str, Any] = {
        "volume_type_id": e.volume_type_id,
        "encryption_id": e.encryption_id,
        "provider": e.provider,
        "cipher": e.cipher,
        "key_size": e.key_size,
        "control_location": e.control_location,
    }
    if not created:
        out.update(
            created_at=views.ts(e.created_at),
            updated_at=views.ts(e.updated_at),
            deleted=False,
            deleted_at=None,
        )
    return out


def _fields(data: dict[str, Any], partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "provider" in data or not partial:
        out["provider"] = schemas.text(data.get("provider"), "provider", nullable=False)
    if "cipher" in data:
        out["cipher"] = schemas.text(data["cipher"], "cipher")
    if "key_size" in data:
        size = data["key_size"]
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise schemas.invalid("key_size", size, f"{size!r} is not of type 'integer'")
        out["key_size"] = size
    if "control_location" in data or not partial:
        out["control_location"] = schemas.choice(
            data.get("control_location", "front-end"), "control_location", ("front-end", "back-end")
        )
    return out


async def _type(r: Req, session: Any, type_id: str) -> VolumeType:
    return await vtypes.get(session, type_id, r.project_id, True, by_name=False)


async def _in_use(session: Any, type_id: str) -> None:
    if await session.scalar(
        select(Volume.id).where(Volume.volume_type_id == type_id, Volume.deleted.is_(False))
    ):
        raise errors.BadRequest(
            f"Volume type {type_id} is in use by volumes; its encryption cannot change."
        )


@router.get("/types/{type_id}/encryption")
async def show(type_id: str, r: Req = Depends(req)) -> Any:
    r.enforce("volume_extension:volume_type_encryption:get")
    async with r.state.db.reader() as session:
        await _type(r, session, type_id)
        found = await session.get(Encryption, type_id)
    return _view(found) if found else {}


@router.get("/types/{type_id}/encryption/{key}")
async def show_item(type_id: str, key: str, r: Req = Depends(req)) -> Any:
    """One field of the type's encryption (`cipher`, `provider`, ...)."""
    r.enforce("volume_extension:volume_type_encryption:get")
    async with r.state.db.reader() as session:
        await _type(r, session, type_id)
        found = await session.get(Encryption, type_id)
    shown = _view(found, created=True) if found else {}
    if key not in shown:
        raise errors.NotFound(f"Volume type encryption for type {type_id} has no {key}.")
    return {key: shown[key]}


@router.post("/types/{type_id}/encryption")
async def create(type_id: str, request: Request, r: Req = Depends(req)) -> Any:
    data = schemas.obj(await bodies.json_object(request), "encryption")
    r.enforce(RULE)
    fields = _fields(data, partial=False)
    async with r.state.db.session() as session:
        await _type(r, session, type_id)
        if await session.get(Encryption, type_id) is not None:
            raise errors.BadRequest(f"Volume type encryption for type {type_id} already exists.")
        await _in_use(session, type_id)
        found = Encryption(volume_type_id=type_id, created_at=utcnow(), **fields)
        session.add(found)
        await session.flush()
        return {"encryption": _view(found, created=True)}


@router.put("/types/{type_id}/encryption/{encryption_id}")
async def update(type_id: str, encryption_id: str, request: Request, r: Req = Depends(req)) -> Any:
    data = schemas.obj(await bodies.json_object(request), "encryption")
    r.enforce(RULE)
    fields = _fields(data, partial=True)
    async with r.state.db.session() as session:
        found = await session.get(Encryption, type_id)
        if found is None or found.encryption_id != encryption_id:
            raise errors.NotFound(f"Volume type encryption for type {type_id} does not exist.")
        await _in_use(session, type_id)
        for key, value in fields.items():
            setattr(found, key, value)
        found.updated_at = utcnow()
    return {"encryption": fields}


@router.delete("/types/{type_id}/encryption/{encryption_id}", status_code=202)
async def delete(type_id: str, encryption_id: str, r: Req = Depends(req)) -> Response:
    r.enforce(RULE)
    async with r.state.db.session() as session:
        found = await session.get(Encryption, type_id)
        if found is None or found.encryption_id != encryption_id:
            raise errors.NotFound(f"Volume type encryption for type {type_id} does not exist.")
        await _in_use(session, type_id)
        await session.delete(found)
    return Response(status_code=202)


# -- default types (3.62) ------------------------------------------------------------------


def _need(r: Req) -> None:
    if not r.at_least("3.62"):
        raise errors.NotFound("The resource could not be found.")


def _default_view(d: DefaultType) -> dict[str, Any]:
    return {"project_id": d.project_id, "volume_type_id": d.volume_type_id}


@router.put("/default-types/{project_id}")
async def set_default(project_id: str, request: Request, r: Req = Depends(req)) -> Any:
    _need(r)
    data = schemas.obj(await bodies.json_object(request), "default_type")
    r.enforce("volume:set_default")
    ref = schemas.text(data.get("volume_type"), "volume_type", nullable=False)
    async with r.state.db.session() as session:
        vtype = await vtypes.get(session, str(ref), project_id, True)
        found = await session.get(DefaultType, project_id)
        if found is None:
            found = DefaultType(project_id=project_id, volume_type_id=vtype.id)
            session.add(found)
        found.volume_type_id = vtype.id
        return {"default_type": _default_view(found)}


@router.get("/default-types")
async def list_defaults(r: Req = Depends(req)) -> Any:
    _need(r)
    r.enforce("volume:set_default")
    async with r.state.db.reader() as session:
        rows = (await session.execute(select(DefaultType))).scalars()
        return {"default_types": [_default_view(d) for d in rows]}


@router.get("/default-types/{project_id}")
async def get_default(project_id: str, r: Req = Depends(req)) -> Any:
    _need(r)
    r.enforce("volume:get_default", r.target(project_id))
    async with r.state.db.reader() as session:
        found = await session.get(DefaultType, project_id)
    if found is None:
        raise errors.NotFound(f"Default type for project {project_id} could not be found.")
    return {"default_type": _default_view(found)}


@router.delete("/default-types/{project_id}", status_code=204)
async def unset_default(project_id: str, r: Req = Depends(req)) -> Response:
    _need(r)
    r.enforce("volume:unset_default")
    async with r.state.db.session() as session:
        found = await session.get(DefaultType, project_id)
        if found is None:
            raise errors.NotFound(f"Default type for project {project_id} could not be found.")
        await session.delete(found)
    return Response(status_code=204)
