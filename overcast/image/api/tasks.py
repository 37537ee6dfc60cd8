"""Routes for /v2/tasks (create, list, show; tasks are never deleted through the API) and
/v2/images/{id}/tasks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http import faults
from overcast.common.http.auth import context
from overcast.image import tasks
from overcast.image.api import json_body, state
from overcast.image.state import ImageState

router = APIRouter(prefix="/v2")


@router.post("/tasks")
async def create(
    request: Request, ctx: RequestContext = Depends(context), st: ImageState = Depends(state)
) -> JSONResponse:
    body = await tasks.create(st, ctx, await json_body(request))
    return JSONResponse(body, status_code=201, headers={"Location": body["self"]})


@router.get("/tasks")
async def index(
    request: Request, ctx: RequestContext = Depends(context), st: ImageState = Depends(state)
) -> dict[str, Any]:
    params = dict(request.query_params)
    found, following = await tasks.listing(st, ctx, params)
    kept = {k: v for k, v in params.items() if k != "marker"}
    body: dict[str, Any] = {
        "tasks": found,
        "first": "/v2/tasks" + (f"?{urlencode(kept)}" if kept else ""),
        "schema": "/v2/schemas/tasks",
    }
    if following:
        body["next"] = "/v2/tasks?" + urlencode({**kept, "marker": following})
    return body


@router.get("/tasks/{task_id}")
async def show(
    task_id: str, ctx: RequestContext = Depends(context), st: ImageState = Depends(state)
) -> dict[str, Any]:
    return await tasks.show(st, ctx, task_id)


@router.delete("/tasks/{task_id}")
async def delete(
    task_id: str, ctx: RequestContext = Depends(context), st: ImageState = Depends(state)
) -> Response:
    await tasks.show(st, ctx, task_id)
    refused = errors.MethodNotAllowed(
        "This operation is currently not permitted on Glance Tasks. They are auto deleted "
        "after reaching the time based on their expires_at property."
    )
    response = faults.render_error(faults.glance, refused)
    response.headers["Allow"] = "GET"
    return response


@router.get("/images/{image_id}/tasks")
async def image_tasks(
    image_id: str, ctx: RequestContext = Depends(context), st: ImageState = Depends(state)
) -> dict[str, Any]:
    return {"tasks": await tasks.for_image(st, ctx, image_id)}
