"""/servers/{id}/os-instance-actions: what was done to a server, request by request, with the
events of each step (2.21 deleted servers, 2.58 paging and updated_at, 2.62 event host,
2.66 changes-before, 2.84 event details)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from overcast.common import errors
from overcast.common.http import pagination
from overcast.compute import records, servers
from overcast.compute.api.deps import Req, req
from overcast.compute.api.servers import _json
from overcast.compute.api.views import host_id
from overcast.compute.models.actions import InstanceAction

router = APIRouter(prefix="/v2.1")


def _action(r: Req, a: InstanceAction) -> dict[str, Any]:
    out = {
        "action": a.action,
        "instance_uuid": a.instance_uuid,
        "message": a.message,
        "project_id": a.project_id,
        "request_id": a.request_id,
        "start_time": records.iso(a.start_time),
        "user_id": a.user_id,
    }
    if r.at_least("2.58"):
        out["updated_at"] = records.iso(a.updated_at)
    return out


async def _instance(r: Req, session: Any, uuid: str) -> Any:
    return await servers.get(session, r.ctx, uuid, deleted=r.at_least("2.21"))


@router.get("/servers/{server_id}/os-instance-actions")
async def index(server_id: str, request: Request, r: Req = Depends(req)) -> Response:
    q = request.query_params
    if not r.at_least("2.58") and any(k in q for k in ("limit", "marker", "changes-since")):
        raise errors.BadRequest("Paging instance actions needs microversion 2.58.")
    async with r.state.db.reader() as session:
        inst = await _instance(r, session, server_id)
        r.enforce("os_compute_api:os-instance-actions:list", {"project_id": inst.project_id})
        stmt = select(InstanceAction).where(InstanceAction.instance_uuid == server_id)
        if "changes-since" in q:
            stmt = stmt.where(
                InstanceAction.updated_at >= servers.parse_time(q["changes-since"], "changes-since")
            )
        if "changes-before" in q and r.at_least("2.66"):
            stmt = stmt.where(
                InstanceAction.updated_at
                <= servers.parse_time(q["changes-before"], "changes-before")
            )
        marker = q.get("marker")
        if marker is not None:
            found = await session.scalar(
                select(InstanceAction.id).where(
                    InstanceAction.instance_uuid == server_id, InstanceAction.request_id == marker
                )
            )
            if found is None:
                raise errors.BadRequest(f"Marker {marker} could not be found.")
            marker = str(found)
        limit = pagination.parse_limit(q.get("limit"), 1000)
        rows = await pagination.page(
            session,
            stmt,
            InstanceAction,
            limit=limit,
            marker=marker and int(marker),  # type: ignore[arg-type]
            sort=[("start_time", "desc")],
        )
    body: dict[str, Any] = {"instanceActions": [_action(r, a) for a in rows]}
    if r.at_least("2.58"):
        links = []
        if limit and len(rows) >= limit:
            links.append(
                {
                    "rel": "next",
                    "href": r.url(
                        f"/servers/{server_id}/os-instance-actions?limit={limit}"
                        f"&marker={rows[-1].request_id}"
                    ),
                }
            )
        body["links"] = links
    return _json(body)


@router.get("/servers/{server_id}/os-instance-actions/{request_id}")
async def show(server_id: str, request_id: str, r: Req = Depends(req)) -> Response:
    async with r.state.db.reader() as session:
        inst = await _instance(r, session, server_id)
        target = {"project_id": inst.project_id}
        r.enforce("os_compute_api:os-instance-actions:show", target)
        action = (
            await session.execute(
                select(InstanceAction)
                .where(
                    InstanceAction.instance_uuid == server_id,
                    InstanceAction.request_id == request_id,
                )
                .order_by(InstanceAction.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if action is None:
            raise errors.NotFound(
                f"Action for request_id {request_id} on instance {server_id} not found"
            )
        out = _action(r, action)
        if r.allowed("os_compute_api:os-instance-actions:events", target):
            traceback = r.allowed("os_compute_api:os-instance-actions:events:traceback", target)
            out["events"] = [_event(r, e, inst.project_id, traceback) for e in action.events]
    return _json({"instanceAction": out})


def _event(r: Req, e: Any, project_id: str, traceback: bool) -> dict[str, Any]:
    out = {
        "event": e.event,
        "start_time": records.iso(e.start_time),
        "finish_time": records.iso(e.finish_time),
        "result": e.result,
    }
    if traceback:
        out["traceback"] = e.traceback
    if r.at_least("2.62"):
        if r.ctx.is_admin:
            out["host"] = e.host
        out["hostId"] = host_id(project_id, e.host)
    if r.at_least("2.84"):
        out["details"] = e.details
    return out
