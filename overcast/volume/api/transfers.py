"""/v3/os-volume-transfer and (3.55+) /v3/volume-transfers: create, list (and detail), show,
delete and accept volume transfers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from overcast.common import errors
from overcast.common.http import bodies, pagination
from overcast.volume import transfers, volumes
from overcast.volume.api import schemas, views
from overcast.volume.api.deps import Req, req
from overcast.volume.models.transfers import Transfer

router = APIRouter(prefix="/v3")
PATHS = ("/os-volume-transfer", "/volume-transfers")


def _kind(r: Req, request: Request) -> str:
    if "/volume-transfers" in request.url.path:
        if not r.at_least("3.55"):
            raise errors.NotFound("The resource could not be found.")
        return "volume-transfers"
    return "os-volume-transfer"


def _view(r: Req, kind: str, t: Transfer, detail: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": t.id,
        "name": t.name,
        "volume_id": t.volume_id,
        "links": r.links(kind, t.id),
    }
    if detail:
        out["created_at"] = views.ts(t.created_at)
        if r.at_least("3.57"):
            out.update(
                source_project_id=t.source_project_id,
                destination_project_id=t.destination_project_id,
                accepted=t.accepted,
                no_snapshots=t.no_snapshots,
            )
    return out


def _routes(path: str) -> None:
    @router.post(path, status_code=202)
    async def create(request: Request, r: Req = Depends(req)) -> Any:
        kind = _kind(r, request)
        data = schemas.obj(await bodies.json_object(request), "transfer")
        volume_id = schemas.uuid_(data.get("volume_id"), "volume_id", nullable=False)
        name = schemas.name(data.get("name"))
        no_snapshots = r.at_least("3.55") and schemas.boolean(
            data.get("no_snapshots", False), "no_snapshots"
        )
        async with r.state.db.session() as session:
            volume = await volumes.get(session, str(volume_id), r.project_id, r.ctx.is_admin)
            r.enforce("volume:create_transfer", r.target(volume.project_id))
            transfer, key = await transfers.create(session, volume, name, no_snapshots)
            body = {"transfer": {**_view(r, kind, transfer), "auth_key": key}}
        return bodies.json_response(body, 202)

    async def _list(request: Request, r: Req, detail: bool) -> Any:
        kind = _kind(r, request)
        r.enforce("volume:get_all_transfers")
        params = dict(request.query_params)
        stmt = select(Transfer).where(Transfer.deleted.is_(False), Transfer.accepted.is_(False))
        if not (r.ctx.is_admin and params.get("all_tenants")):
            stmt = stmt.where(Transfer.source_project_id == r.project_id)
        limit = schemas.limit(params.get("limit"), r.state.settings.volume.max_list_limit)
        async with r.state.db.reader() as session:
            rows = await pagination.page(
                session,
                stmt,
                Transfer,
                limit=limit,
                marker=params.get("marker"),
                sort=schemas.sort(params, ("created_at", "id", "name")),
            )
        return {"transfers": [_view(r, kind, t, detail) for t in rows]}

    @router.get(path)
    async def index(request: Request, r: Req = Depends(req)) -> Any:
        return await _list(request, r, detail=False)

    @router.get(path + "/detail")
    async def detail(request: Request, r: Req = Depends(req)) -> Any:
        return await _list(request, r, detail=True)

    @router.get(path + "/{transfer_id}")
    async def show(transfer_id: str, request: Request, r: Req = Depends(req)) -> Any:
        kind = _kind(r, request)
        async with r.state.db.reader() as session:
            transfer = await transfers.get(session, transfer_id, r.project_id, r.ctx.is_admin)
        r.enforce("volume:get_transfer", r.target(transfer.source_project_id))
        return {"transfer": _view(r, kind, transfer)}

    @router.delete(path + "/{transfer_id}", status_code=202)
    async def delete(transfer_id: str, request: Request, r: Req = Depends(req)) -> Response:
        _kind(r, request)
        async with r.state.db.session() as session:
            transfer = await transfers.get(session, transfer_id, r.project_id, r.ctx.is_admin)
            r.enforce("volume:delete_transfer", r.target(transfer.source_project_id))
            await transfers.cancel(session, transfer)
        return Response(status_code=202)

    @router.post(path + "/{transfer_id}/accept", status_code=202)
    async def accept(transfer_id: str, request: Request, r: Req = Depends(req)) -> Any:
        kind = _kind(r, request)
        data = schemas.obj(await bodies.json_object(request), "accept")
        key = schemas.text(data.get("auth_key"), "auth_key", nullable=False)
        r.enforce("volume:accept_transfer")
        async with r.state.db.session() as session:
            transfer = await transfers.get(session, transfer_id, None, True)
            volume = await transfers.accept(r.state, session, transfer, str(key), r.bus_ctx)
            body = {
                "transfer": {
                    "id": transfer.id,
                    "name": transfer.name,
                    "volume_id": volume.id,
                    "links": r.links(kind, transfer.id),
                }
            }
        return bodies.json_response(body, 202)


for _path in PATHS:
    _routes(_path)
