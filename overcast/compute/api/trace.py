"""/servers/{id}/trace and /servers/{id}/os-instance-actions/{request_id}/trace: Overcast's
workflow traces of a server (the newest action's, or one request's), as JSON or streamed as
Server-Sent Events while the workflow runs. The document and the stream are described in
`overcast.common.trace.views`. The server's project reads them
(`os_compute_api:os-instance-actions:trace`); admins see hosts (`...:trace:hosts`); anyone
else gets 404, as for the server itself.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from overcast.common.trace import views
from overcast.compute import servers
from overcast.compute.api.deps import Req, req
from overcast.compute.models.instances import Instance

router = APIRouter(prefix="/v2.1")


async def _respond(server_id: str, request_id: str | None, request: Request, r: Req) -> Response:
    db = r.state.db
    async with db.reader() as session:
        inst = await servers.get(session, r.ctx, server_id, deleted=True)
    target = {"project_id": inst.project_id}
    r.enforce("os_compute_api:os-instance-actions:trace", target)
    hosts = r.allowed("os_compute_api:os-instance-actions:trace:hosts", target)

    async def done() -> bool:
        """The server is in no task (built, moved or failed) or gone."""
        async with db.reader() as session:
            row = (
                await session.execute(
                    select(Instance.task_state, Instance.deleted).where(Instance.uuid == server_id)
                )
            ).one_or_none()
        return row is None or bool(row.deleted) or row.task_state is None

    return await views.respond(request, db, "server", server_id, request_id, hosts, done)


@router.get("/servers/{server_id}/trace")
async def newest(server_id: str, request: Request, r: Req = Depends(req)) -> Response:
    return await _respond(server_id, None, request, r)


@router.get("/servers/{server_id}/os-instance-actions/{request_id}/trace")
async def of_request(
    server_id: str, request_id: str, request: Request, r: Req = Depends(req)
) -> Response:
    return await _respond(server_id, request_id, request, r)
