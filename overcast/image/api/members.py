"""Routes for /v2/images/{id}/members: share an image with projects, and answer a share."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from overcast.common.context import RequestContext
from overcast.common.http.auth import context
from overcast.image import members
from overcast.image.api import json_body, state
from overcast.image.state import ImageState

router = APIRouter(prefix="/v2/images/{image_id}/members")


@router.post("")
async def add(
    image_id: str,
    request: Request,
    ctx: RequestContext = Depends(context),
    st: ImageState = Depends(state),
) -> dict[str, Any]:
    return await members.add(st, ctx, image_id, await json_body(request))


@router.get("")
async def index(
    image_id: str, ctx: RequestContext = Depends(context), st: ImageState = Depends(state)
) -> dict[str, Any]:
    found = await members.listing(st, ctx, image_id)
    return {"members": found, "schema": "/v2/schemas/members"}


@router.get("/{member_id}")
async def show(
    image_id: str,
    member_id: str,
    ctx: RequestContext = Depends(context),
    st: ImageState = Depends(state),
) -> dict[str, Any]:
    return await members.show(st, ctx, image_id, member_id)


@router.put("/{member_id}")
async def update(
    image_id: str,
    member_id: str,
    request: Request,
    ctx: RequestContext = Depends(context),
    st: ImageState = Depends(state),
) -> dict[str, Any]:
    return await members.update(st, ctx, image_id, member_id, await json_body(request))


@router.delete("/{member_id}", status_code=204)
async def remove(
    image_id: str,
    member_id: str,
    ctx: RequestContext = Depends(context),
    st: ImageState = Depends(state),
) -> Response:
    await members.remove(st, ctx, image_id, member_id)
    return Response(status_code=204)
