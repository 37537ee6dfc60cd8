"""/v3/attachments (3.27+): create (optionally with the connector), list, show, update with the
connector, `os-complete`, delete. What compute uses to attach volumes to servers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from overcast.common import errors
from overcast.common.http import bodies, pagination
from overcast.volume import attachments, volumes
from overcast.volume.api import schemas, views
from overcast.volume.api.deps import Req, req
from overcast.volume.models.volumes import Attachment

router = APIRouter(prefix="/v3")


def _need(r: Req) -> None:
    if not r.at_least("3.27"):
        raise errors.NotFound("The resource could not be found.")


@router.post("/attachments")
async def create(request: Request, r: Req = Depends(req)) -> Any:
    _need(r)
    data = schemas.obj(await bodies.json_object(request), "attachment")
    volume_id = schemas.uuid_(data.get("volume_uuid"), "volume_uuid", nullable=False)
    instance = schemas.uuid_(data.get("instance_uuid"), "instance_uuid")
    connector = data.get("connector")
    mode = "rw"
    if r.at_least("3.54") and data.get("mode") is not None:
        mode = schemas.choice(data.get("mode"), "mode", ("rw", "ro"))
    async with r.state.db.session() as session:
        volume = await volumes.get(session, str(volume_id), r.project_id, r.ctx.is_admin)
        r.enforce("volume:attachment_create", r.target(volume.project_id))
        if (volume.admin_metadata or {}).get("readonly") == "True":
            mode = "ro"
        attachment = await attachments.reserve(session, volume, instance, mode)
        attachment_id = attachment.id
    if connector:
        try:
            await attachments.connect(r.state, r.bus_ctx, attachment_id, connector)
        except errors.OvercastError:
            await attachments.remove(r.state, r.bus_ctx, attachment_id, r.project_id, True)
            raise
    async with r.state.db.reader() as session:
        found = await session.get(Attachment, attachment_id)
        assert found is not None
        return bodies.json_response({"attachment": views.attachment(found)})


@router.get("/attachments")
@router.get("/attachments/detail")
async def index(request: Request, r: Req = Depends(req)) -> Any:
    _need(r)
    r.enforce("volume:attachment_get_all")
    params = dict(request.query_params)
    stmt = select(Attachment).where(Attachment.deleted.is_(False))
    if not (r.ctx.is_admin and (params.get("all_tenants") or params.get("project_id"))):
        stmt = stmt.where(Attachment.project_id == r.project_id)
    elif params.get("project_id"):
        stmt = stmt.where(Attachment.project_id == params["project_id"])
    for key, column in (
        ("volume_id", Attachment.volume_id),
        ("instance_id", Attachment.instance_uuid),
        ("status", Attachment.attach_status),
        ("attach_status", Attachment.attach_status),
    ):
        if params.get(key):
            stmt = stmt.where(column == params[key])
    limit = schemas.limit(params.get("limit"), r.state.settings.volume.max_list_limit)
    detail = request.url.path.endswith("/detail")
    async with r.state.db.reader() as session:
        rows = await pagination.page(
            session,
            stmt,
            Attachment,
            limit=limit,
            marker=params.get("marker"),
            sort=schemas.sort(params, ("created_at", "id")),
        )
    return {"attachments": [views.attachment(a, detail=detail) for a in rows]}


@router.get("/attachments/{attachment_id}")
async def show(attachment_id: str, r: Req = Depends(req)) -> Any:
    _need(r)
    async with r.state.db.reader() as session:
        found = await attachments.get(session, attachment_id, r.project_id, r.ctx.is_admin)
    r.enforce("volume:attachment_get", r.target(found.project_id))
    return {"attachment": views.attachment(found)}


@router.put("/attachments/{attachment_id}")
async def update(attachment_id: str, request: Request, r: Req = Depends(req)) -> Any:
    _need(r)
    data = schemas.obj(await bodies.json_object(request), "attachment")
    async with r.state.db.reader() as session:
        found = await attachments.get(session, attachment_id, r.project_id, r.ctx.is_admin)
    r.enforce("volume:attachment_update", r.target(found.project_id))
    await attachments.connect(r.state, r.bus_ctx, attachment_id, data.get("connector"))
    async with r.state.db.reader() as session:
        found = await attachments.get(session, attachment_id, r.project_id, r.ctx.is_admin)
    return {"attachment": views.attachment(found)}


@router.post("/attachments/{attachment_id}/action", status_code=204)
async def act(attachment_id: str, request: Request, r: Req = Depends(req)) -> Response:
    if not r.at_least("3.44"):
        raise errors.NotFound("The resource could not be found.")
    body = await bodies.json_object(request)
    if "os-complete" not in body:
        raise errors.BadRequest(
            f"Invalid input received: There is no such action: {', '.join(body)}"
        )
    async with r.state.db.session() as session:
        found = await attachments.get(session, attachment_id, r.project_id, r.ctx.is_admin)
        r.enforce("volume:attachment_complete", r.target(found.project_id))
        # As Cinder, even with no connector yet: Nova marks the volume in use this way when
        # it is attached to a shelved-offloaded server, and connects it at unshelve.
        await attachments.complete(session, found)
    return Response(status_code=204)


@router.delete("/attachments/{attachment_id}")
async def delete(attachment_id: str, r: Req = Depends(req)) -> Any:
    _need(r)
    async with r.state.db.reader() as session:
        found = await attachments.get(session, attachment_id, r.project_id, r.ctx.is_admin)
    r.enforce("volume:attachment_delete", r.target(found.project_id))
    await attachments.remove(r.state, r.bus_ctx, attachment_id, r.project_id, r.ctx.is_admin)
    async with r.state.db.reader() as session:
        left = await attachments.live(session, found.volume_id)
    return {"attachments": [views.attachment(a, detail=False) for a in left]}
