"""os-aggregates: host aggregates for admins, with their hosts and metadata; the `uuid` shows
from 2.41. An `availability_zone` (on create/update, or as metadata) makes the hosts a zone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from overcast.common import errors
from overcast.compute import aggregates
from overcast.compute.api import inputs
from overcast.compute.api.deps import Req, json_body, req
from overcast.compute.models.aggregates import Aggregate
from overcast.compute.scheduler.manager import hosts_changed

router = APIRouter()
RULE = "os_compute_api:os-aggregates:"


def _view(r: Req, agg: Aggregate, *, relations: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": agg.id,
        "name": agg.name,
        "availability_zone": agg.availability_zone,
        "created_at": inputs.isotime(agg.created_at),
        "updated_at": inputs.isotime(agg.updated_at),
        "deleted_at": None,
        "deleted": False,
    }
    if relations:
        out["hosts"] = agg.host_names
        out["metadata"] = agg.metadata_dict
    if r.at_least("2.41"):
        out["uuid"] = agg.uuid
    return out


def _id(value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise errors.BadRequest("Invalid input received: id must be an integer") from exc


def _zone(value: Any) -> str | None:
    if value is None:
        return None
    zone = inputs.string(value, "availability_zone")
    if ":" in zone:
        raise inputs.invalid("availability_zone", zone, f"{zone!r} does not match '^[^:]*$'")
    return zone


@router.get("/v2.1/os-aggregates")
async def index(r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "index", {})
    async with r.state.db.reader() as session:
        return {"aggregates": [_view(r, a) for a in await aggregates.list_all(session)]}


@router.post("/v2.1/os-aggregates")
async def create(request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "create", {})
    agg = inputs.section(await json_body(request), "aggregate", {"name", "availability_zone"})
    name = inputs.name(inputs.required(agg, "name", "aggregate"))
    zone = _zone(agg.get("availability_zone"))
    async with r.state.db.session() as session:
        made = await aggregates.create(session, name, zone)
        return {"aggregate": _view(r, made, relations=False)}


@router.get("/v2.1/os-aggregates/{aggregate_id}")
async def show(aggregate_id: str, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "show", {})
    async with r.state.db.reader() as session:
        return {"aggregate": _view(r, await aggregates.get(session, _id(aggregate_id)))}


@router.put("/v2.1/os-aggregates/{aggregate_id}")
async def update(aggregate_id: str, request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "update", {})
    agg = inputs.section(await json_body(request), "aggregate", {"name", "availability_zone"})
    if not agg:
        raise inputs.invalid("aggregate", agg, "{} does not have enough properties")
    name = inputs.name(agg["name"]) if "name" in agg else None
    zone = _zone(agg.get("availability_zone"))
    async with r.state.db.session() as session:
        found = await aggregates.get(session, _id(aggregate_id))
        out = {"aggregate": _view(r, await aggregates.update(session, found, name, zone))}
    await hosts_changed(r.state.bus)
    return out


@router.delete("/v2.1/os-aggregates/{aggregate_id}")
async def delete(aggregate_id: str, r: Req = Depends(req)) -> Response:
    r.enforce(RULE + "delete", {})
    async with r.state.db.session() as session:
        await aggregates.delete(session, await aggregates.get(session, _id(aggregate_id)))
    await hosts_changed(r.state.bus)
    return Response(status_code=200)


@router.post("/v2.1/os-aggregates/{aggregate_id}/action")
async def action(aggregate_id: str, request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    body = await json_body(request)
    if len(body) != 1 or next(iter(body)) not in ("add_host", "remove_host", "set_metadata"):
        raise errors.BadRequest(
            "Invalid input for field/attribute action. Expected exactly one of add_host, "
            "remove_host, set_metadata"
        )
    verb = next(iter(body))
    args = inputs.section(body, verb, {"metadata"} if verb == "set_metadata" else {"host"})
    r.enforce(RULE + verb, {})
    ident = _id(aggregate_id)
    async with r.state.db.session() as session:
        found = await aggregates.get(session, ident)
        if verb == "set_metadata":
            meta = inputs.required(args, "metadata", verb)
            if not isinstance(meta, dict):
                raise inputs.invalid("metadata", meta, f"{meta!r} is not of type 'object'")
            found = await aggregates.set_metadata(session, found, meta)
        else:
            host = inputs.string(inputs.required(args, "host", verb), "host")
            change = aggregates.add_host if verb == "add_host" else aggregates.remove_host
            found = await change(session, found, host)
        out = {"aggregate": _view(r, found)}
    await hosts_changed(r.state.bus)
    return out
