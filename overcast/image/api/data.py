"""Routes for image data: PUT/GET /v2/images/{id}/file, PUT .../stage and POST .../import.

Bodies stream straight from the socket into the domain and back out of the store: no route
ever holds an image in memory.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http.auth import context
from overcast.image import data, download, imports
from overcast.image.api import json_body, media_type, state
from overcast.image.state import ImageState

router = APIRouter(prefix="/v2")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _size_hint(request: Request) -> int | None:
    """The announced size: Content-Length, or the client's X-OpenStack-Image-Size hint."""
    found: dict[str, int] = {}
    for name in ("content-length", "x-openstack-image-size"):
        value = request.headers.get(name)
        if value is not None:
            if not value.strip().isdigit():
                raise errors.BadRequest(f"Invalid {name} header: {value!r}.")
            found[name] = int(value)
    if len(set(found.values())) > 1:
        raise errors.BadRequest("X-OpenStack-Image-Size does not match the Content-Length.")
    return next(iter(found.values()), None)


def _require_octet_stream(request: Request) -> None:
    if media_type(request) != "application/octet-stream":
        raise errors.UnsupportedMediaType("Image data must be sent as application/octet-stream.")


async def _body(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect as exc:
        raise errors.BadRequest("The client went away before all the image data arrived.") from exc


@router.put("/images/{image_id}/file", status_code=204)
async def upload(
    image_id: str,
    request: Request,
    ctx: RequestContext = Depends(context),
    st: ImageState = Depends(state),
) -> Response:
    _require_octet_stream(request)
    store = request.headers.get("x-image-meta-store")
    await data.upload(
        st, ctx, image_id, _body(request), size_hint=_size_hint(request), store_name=store
    )
    return Response(status_code=204)


@router.put("/images/{image_id}/stage", status_code=204)
async def stage(
    image_id: str,
    request: Request,
    ctx: RequestContext = Depends(context),
    st: ImageState = Depends(state),
) -> Response:
    _require_octet_stream(request)
    await data.stage(st, ctx, image_id, _body(request), size_hint=_size_hint(request))
    return Response(status_code=204)


@router.post("/images/{image_id}/import", status_code=202)
async def import_image(
    image_id: str,
    request: Request,
    ctx: RequestContext = Depends(context),
    st: ImageState = Depends(state),
) -> Response:
    body = await json_body(request)
    await imports.start(st, ctx, image_id, body, request.headers.get("x-image-meta-store"))
    return Response(status_code=202)


def _range(request: Request) -> tuple[int, int | None] | None:
    value = request.headers.get("range")
    if not value:
        return None
    match = _RANGE.match(value.strip())
    if not match or not (match.group(1) or match.group(2)):
        raise errors.RangeNotSatisfiable(f"Unsupported or malformed Range header: {value}.")
    first, last = match.groups()
    if not first:  # bytes=-N: the last N bytes
        return (-int(last), None)
    return (int(first), int(last) if last else None)


@router.get("/images/{image_id}/file")
async def get_file(
    image_id: str,
    request: Request,
    ctx: RequestContext = Depends(context),
    st: ImageState = Depends(state),
) -> Response:
    wanted = _range(request)
    found = await download.download(st, ctx, image_id, wanted)
    if found is None:
        return Response(status_code=204)
    headers = {"Content-Length": str(found.size)}
    if wanted is None:
        if found.checksum:
            headers["Content-MD5"] = found.checksum
        status = 200
    else:
        end = found.start + found.size - 1
        headers["Content-Range"] = f"bytes {found.start}-{end}/{found.total}"
        status = 206
    return StreamingResponse(
        found.chunks, status_code=status, media_type="application/octet-stream", headers=headers
    )
