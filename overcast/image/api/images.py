"""Routes for /v2/images: create, list, show, update (JSON patch), delete, actions and tags."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http import faults, pagination
from overcast.common.http.auth import context
from overcast.image import images, listing, patch
from overcast.image.api import json_body, media_type, state
from overcast.image.state import ImageState

router = APIRouter(prefix="/v2")


@router.post("/images")
async def create(
    request: Request, ctx: RequestContext = Depends(context), st: ImageState = Depends(state)
) -> JSONResponse:
    body = await images.create(st, ctx, await json_body(request))
    headers = {
        "Location": f"{st.endpoint.rstrip('/')}/v2/images/{body['id']}",
        "OpenStack-image-import-methods": ",".join(st.import_methods),
        "OpenStack-image-store-ids": ",".join(st.stores.by_name),
    }
    return JSONResponse(body, status_code=201, headers=headers)


def _query(params: list[tuple[str, str]]) -> listing.Query:
    q = listing.Query(sort=listing.sorting(params))
    for key, value in params:
        if key in ("sort", "sort_key", "sort_dir"):
            continue
        if key == "limit":
            q.limit = pagination.parse_limit(value)
        elif key == "marker":
            q.marker = value
        elif key == "member_status":
            q.member_status = value
        elif key == "tag":
            q.tags.append(value.strip())
        else:
            q.filters[key] = value
    return q


@router.get("/images")
async def index(
    request: Request, ctx: RequestContext = Depends(context), st: ImageState = Depends(state)
) -> dict[str, Any]:
    params = list(request.query_params.multi_items())
    found, following = await listing.run(st, ctx, _query(params))
    kept = [(k, v) for k, v in params if k != "marker"]
    body: dict[str, Any] = {
        "images": found,
        "first": "/v2/images" + (f"?{urlencode(kept)}" if kept else ""),
        "schema": "/v2/schemas/images",
    }
    if following:
        body["next"] = "/v2/images?" + urlencode([*kept, ("marker", following)])
    return body


@router.get("/images/{image_id}")
async def show(
    image_id: str, ctx: RequestContext = Depends(context), st: ImageState = Depends(state)
) -> dict[str, Any]:
    return await images.show(st, ctx, image_id)


@router.patch("/images/{image_id}")
async def update(
    image_id: str,
    request: Request,
    ctx: RequestContext = Depends(context),
    st: ImageState = Depends(state),
) -> Response:
    try:
        changes = patch.parse(media_type(request), await json_body(request), st.schema)
    except errors.UnsupportedMediaType as exc:
        response = faults.render_error(faults.glance, exc)
        response.headers["Accept-Patch"] = ", ".join(sorted(patch.MEDIA_TYPES))
        return response
    return JSONResponse(await images.update(st, ctx, image_id, changes))


@router.delete("/images/{image_id}", status_code=204)
async def delete(
    image_id: str, ctx: RequestContext = Depends(context), st: ImageState = Depends(state)
) -> Response:
    await images.delete(st, ctx, image_id)
    return Response(status_code=204)


@router.post("/images/{image_id}/actions/{action}", status_code=204)
async def action(
    image_id: str,
    action: str,
    ctx: RequestContext = Depends(context),
    st: ImageState = Depends(state),
) -> Response:
    if action not in ("deactivate", "reactivate"):
        raise errors.NotFound(f"Unknown image action {action}.")
    await images.set_active(st, ctx, image_id, action == "reactivate")
    return Response(status_code=204)


@router.put("/images/{image_id}/tags/{tag}", status_code=204)
async def add_tag(
    image_id: str, tag: str, ctx: RequestContext = Depends(context), st: ImageState = Depends(state)
) -> Response:
    await images.tag(st, ctx, image_id, tag, add=True)
    return Response(status_code=204)


@router.delete("/images/{image_id}/tags/{tag}", status_code=204)
async def remove_tag(
    image_id: str, tag: str, ctx: RequestContext = Depends(context), st: ImageState = Depends(state)
) -> Response:
    await images.tag(st, ctx, image_id, tag, add=False)
    return Response(status_code=204)
