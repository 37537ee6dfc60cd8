"""/v2/images/{id}/trace: Overcast's workflow trace of an image (its newest traced request,
e.g. its data upload), as JSON or streamed as Server-Sent Events while the image is being
saved; `?request_id=` picks one request's. The document and the stream are described in
`overcast.common.trace.views`. The image's owner may read it (`get_image_trace`), admins see
hosts (`get_image_trace:hosts`); anyone else gets 404, even for a public image.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http.auth import context
from overcast.common.trace import views
from overcast.image import access, images, models
from overcast.image.api import state
from overcast.image.state import ImageState

router = APIRouter(prefix="/v2")
BUSY = ("saving", "importing", "uploading")


@router.get("/images/{image_id}/trace")
async def show(
    image_id: str,
    request: Request,
    ctx: RequestContext = Depends(context),
    st: ImageState = Depends(state),
) -> Response:
    async with st.db.reader() as session:
        image = await images.load(session, st, ctx, image_id)
    target = access.target(image, ctx)
    if not st.policy.check("get_image_trace", ctx, target):
        raise errors.NotFound(f"No image found with ID {image_id}")
    hosts = st.policy.check("get_image_trace:hosts", ctx, target)

    async def done() -> bool:
        async with st.db.reader() as session:
            row = await session.get(models.Image, image_id, populate_existing=True)
        return row is None or row.deleted or row.status not in BUSY

    request_id = request.query_params.get("request_id")
    return await views.respond(request, st.db, "image", image_id, request_id, hosts, done)
