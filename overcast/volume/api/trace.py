"""/v3/volumes/{id}/trace: Overcast's workflow trace of a volume (its newest traced request,
e.g. its create), as JSON or streamed as Server-Sent Events while the volume is being made;
`?request_id=` picks one request's. The document and the stream are described in
`overcast.common.trace.views`. Readers of the volume's project may read it (`volume:get_trace`),
admins see back ends and hosts (`volume:get_trace:hosts`); others get 404.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from overcast.common.trace import views
from overcast.volume import volumes
from overcast.volume.api.deps import Req, req
from overcast.volume.models.volumes import Volume

router = APIRouter(prefix="/v3")
BUSY = ("creating", "downloading", "extending", "deleting")


@router.get("/volumes/{volume_id}/trace")
async def show(volume_id: str, request: Request, r: Req = Depends(req)) -> Response:
    db = r.state.db
    async with db.reader() as session:
        volume = await volumes.get(session, volume_id, r.project_id, r.ctx.is_admin)
    target = r.target(volume.project_id)
    r.enforce("volume:get_trace", target)
    hosts = r.allowed("volume:get_trace:hosts", target)

    async def done() -> bool:
        async with db.reader() as session:
            row = await session.get(Volume, volume_id, populate_existing=True)
        return row is None or row.deleted or row.status not in BUSY

    request_id = request.query_params.get("request_id")
    return await views.respond(request, db, "volume", volume_id, request_id, hosts, done)
