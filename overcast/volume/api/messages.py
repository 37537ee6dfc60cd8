"""/v3/messages (3.3+): the user messages of failed asynchronous operations (list, show,
delete), each project seeing its own."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from overcast.common import errors
from overcast.common.http import pagination
from overcast.volume import messages
from overcast.volume.api import schemas, views
from overcast.volume.api.deps import Req, req
from overcast.volume.models.hosts import Message

router = APIRouter(prefix="/v3")


def _need(r: Req) -> None:
    if not r.at_least("3.3"):
        raise errors.NotFound("The resource could not be found.")


def _view(r: Req, m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "event_id": messages.event_id(m),
        "user_message": messages.user_message(m),
        "message_level": m.message_level,
        "resource_type": m.resource_type,
        "resource_uuid": m.resource_uuid,
        "request_id": m.request_id,
        "created_at": views.ts(m.created_at),
        "guaranteed_until": views.ts(m.expires_at),
        "links": r.links("messages", m.id),
    }


async def _get(r: Req, session: Any, message_id: str) -> Message:
    found = await session.get(Message, message_id)
    if found is None or (not r.ctx.is_admin and found.project_id != r.project_id):
        raise errors.NotFound(f"Message {message_id} could not be found.")
    return found


@router.get("/messages")
async def index(request: Request, r: Req = Depends(req)) -> Any:
    _need(r)
    r.enforce("message:get_all")
    params = dict(request.query_params)
    stmt = select(Message)
    if not r.ctx.is_admin:
        stmt = stmt.where(Message.project_id == r.project_id)
    for key in ("resource_uuid", "resource_type", "message_level", "request_id"):
        if params.get(key):
            stmt = stmt.where(getattr(Message, key) == params[key])
    if params.get("event_id"):
        parts = params["event_id"].split("_")
        if len(parts) == 4:
            stmt = stmt.where(
                Message.resource_type == parts[1],
                Message.action_id == parts[2],
                Message.detail_id == parts[3],
            )
    limit = schemas.limit(params.get("limit"), r.state.settings.volume.max_list_limit)
    async with r.state.db.reader() as session:
        rows = await pagination.page(
            session,
            stmt,
            Message,
            limit=limit,
            marker=params.get("marker"),
            sort=schemas.sort(params, ("created_at", "id", "resource_type")),
        )
    return {"messages": [_view(r, m) for m in rows]}


@router.get("/messages/{message_id}")
async def show(message_id: str, r: Req = Depends(req)) -> Any:
    _need(r)
    async with r.state.db.reader() as session:
        found = await _get(r, session, message_id)
    r.enforce("message:get", r.target(found.project_id))
    return {"message": _view(r, found)}


@router.delete("/messages/{message_id}", status_code=204)
async def delete(message_id: str, r: Req = Depends(req)) -> Response:
    _need(r)
    async with r.state.db.session() as session:
        found = await _get(r, session, message_id)
        r.enforce("message:delete", r.target(found.project_id))
        await session.delete(found)
    return Response(status_code=204)
