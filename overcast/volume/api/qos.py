"""/v3/qos-specs: QoS specs (create, list, show, set and unset keys, delete) and their
association with volume types (associate, disassociate, disassociate_all, associations)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from overcast.common import errors
from overcast.common.http import bodies
from overcast.volume.api import schemas
from overcast.volume.api.deps import Req, req
from overcast.volume.models.types import QosSpecs, VolumeType

router = APIRouter(prefix="/v3")
RULE = "volume_extension:qos_specs_manage"
CONSUMERS = ("front-end", "back-end", "both")


def _view(r: Req, q: QosSpecs) -> dict[str, Any]:
    return {
        "id": q.id,
        "name": q.name,
        "consumer": q.consumer,
        "specs": dict(q.specs or {}),
    }


async def _get(session: Any, qos_id: str) -> QosSpecs:
    found = await session.get(QosSpecs, qos_id)
    if found is None:
        raise errors.NotFound(f"QoS Specs {qos_id} could not be found.")
    return found


def _specs(data: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in data.items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise schemas.invalid(key, value, "QoS spec values must be strings.")
        out[str(key)] = str(value)
    return out


@router.post("/qos-specs")
async def create(request: Request, r: Req = Depends(req)) -> Any:
    data = dict(schemas.obj(await bodies.json_object(request), "qos_specs"))
    r.enforce(f"{RULE}")
    name = schemas.text(data.pop("name", None), "name", nullable=False)
    if not name or not name.strip():
        raise schemas.invalid("name", name, "Name must not be blank.")
    consumer = schemas.choice(data.pop("consumer", "back-end"), "consumer", CONSUMERS)
    specs = _specs(data.pop("specs", None) or data)
    async with r.state.db.session() as session:
        if await session.scalar(select(QosSpecs).where(QosSpecs.name == name)):
            raise errors.Conflict(f"QoS Specs {name} already exists.")
        qos = QosSpecs(name=name, consumer=consumer, specs=specs)
        session.add(qos)
        await session.flush()
        return {"qos_specs": _view(r, qos), "links": r.links("qos-specs", qos.id)}


@router.get("/qos-specs")
async def index(r: Req = Depends(req)) -> Any:
    r.enforce(RULE)
    async with r.state.db.reader() as session:
        rows = (await session.execute(select(QosSpecs).order_by(QosSpecs.created_at))).scalars()
        return {"qos_specs": [_view(r, q) for q in rows]}


@router.get("/qos-specs/{qos_id}")
async def show(qos_id: str, r: Req = Depends(req)) -> Any:
    r.enforce(RULE)
    async with r.state.db.reader() as session:
        qos = await _get(session, qos_id)
        return {"qos_specs": _view(r, qos), "links": r.links("qos-specs", qos.id)}


@router.put("/qos-specs/{qos_id}")
async def set_keys(qos_id: str, request: Request, r: Req = Depends(req)) -> Any:
    data = schemas.obj(await bodies.json_object(request), "qos_specs")
    r.enforce(RULE)
    specs = _specs(data)
    async with r.state.db.session() as session:
        qos = await _get(session, qos_id)
        qos.specs = {**qos.specs, **specs}
    return {"qos_specs": specs}


@router.put("/qos-specs/{qos_id}/delete_keys", status_code=202)
async def unset_keys(qos_id: str, request: Request, r: Req = Depends(req)) -> Response:
    keys = (await bodies.json_object(request)).get("keys")
    if not isinstance(keys, list):
        raise errors.BadRequest("Invalid input received: keys must be a list.")
    r.enforce(RULE)
    async with r.state.db.session() as session:
        qos = await _get(session, qos_id)
        missing = [k for k in keys if k not in qos.specs]
        if missing:
            raise errors.BadRequest(
                f"Invalid input received: QoS Specs {qos_id} has no key {missing[0]}."
            )
        qos.specs = {k: v for k, v in qos.specs.items() if k not in keys}
    return Response(status_code=202)


@router.delete("/qos-specs/{qos_id}", status_code=202)
async def delete(qos_id: str, request: Request, r: Req = Depends(req)) -> Response:
    force = schemas.boolean(request.query_params.get("force", "false"), "force")
    r.enforce(RULE)
    async with r.state.db.session() as session:
        qos = await _get(session, qos_id)
        users = list(
            (
                await session.execute(select(VolumeType).where(VolumeType.qos_specs_id == qos_id))
            ).scalars()
        )
        if users and not force:
            raise errors.BadRequest(f"QoS Specs {qos_id} is still associated with entities.")
        for vtype in users:
            vtype.qos_specs_id = None
        await session.delete(qos)
    return Response(status_code=202)


@router.get("/qos-specs/{qos_id}/associations")
async def associations(qos_id: str, r: Req = Depends(req)) -> Any:
    r.enforce(RULE)
    async with r.state.db.reader() as session:
        await _get(session, qos_id)
        rows = (
            await session.execute(
                select(VolumeType).where(
                    VolumeType.qos_specs_id == qos_id, VolumeType.deleted.is_(False)
                )
            )
        ).scalars()
        return {
            "qos_associations": [
                {"association_type": "volume_type", "name": t.name, "id": t.id} for t in rows
            ]
        }


async def _type(session: Any, type_id: str | None) -> VolumeType:
    found = await session.get(VolumeType, type_id or "")
    if found is None or found.deleted:
        raise errors.NotFound(f"Volume type {type_id} could not be found.")
    return found


@router.get("/qos-specs/{qos_id}/associate", status_code=202)
async def associate(qos_id: str, request: Request, r: Req = Depends(req)) -> Response:
    r.enforce(RULE)
    type_id = request.query_params.get("vol_type_id")
    if not type_id:
        raise errors.BadRequest("Invalid input received: Volume Type id must not be None.")
    async with r.state.db.session() as session:
        await _get(session, qos_id)
        vtype = await _type(session, type_id)
        if vtype.qos_specs_id and vtype.qos_specs_id != qos_id:
            raise errors.BadRequest(
                f"Volume type {type_id} is already associated with another qos specs: {vtype.qos_specs_id}"
            )
        vtype.qos_specs_id = qos_id
    return Response(status_code=202)


@router.get("/qos-specs/{qos_id}/disassociate", status_code=202)
async def disassociate(qos_id: str, request: Request, r: Req = Depends(req)) -> Response:
    r.enforce(RULE)
    type_id = request.query_params.get("vol_type_id")
    if not type_id:
        raise errors.BadRequest("Invalid input received: Volume Type id must not be None.")
    async with r.state.db.session() as session:
        await _get(session, qos_id)
        vtype = await _type(session, type_id)
        if vtype.qos_specs_id == qos_id:
            vtype.qos_specs_id = None
    return Response(status_code=202)


@router.get("/qos-specs/{qos_id}/disassociate_all", status_code=202)
async def disassociate_all(qos_id: str, r: Req = Depends(req)) -> Response:
    r.enforce(RULE)
    async with r.state.db.session() as session:
        await _get(session, qos_id)
        for vtype in (
            await session.execute(select(VolumeType).where(VolumeType.qos_specs_id == qos_id))
        ).scalars():
            vtype.qos_specs_id = None
    return Response(status_code=202)
