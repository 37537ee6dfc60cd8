"""The image API (Glance v2): HTTP only. Routes parse and answer; `overcast.image` decides.

Shared request helpers live here; each resource has its own module, gathered in `ROUTERS`.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from overcast.common import errors
from overcast.image.state import ImageState


async def state(request: Request) -> ImageState:
    """FastAPI dependency: the image service's shared state (async: no thread pool hop)."""
    found = request.app.state.image
    assert isinstance(found, ImageState)
    return found


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise errors.BadRequest("Body expected in request.")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise errors.BadRequest("Malformed JSON in request body.") from exc


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _routers() -> list[Any]:
    from overcast.image.api import (
        data,
        images,
        info,
        members,
        metadefs,
        schemas,
        tasks,
        trace,
        versions,
    )

    return [
        versions.router,
        metadefs.router,
        images.router,
        data.router,
        trace.router,
        members.router,
        schemas.router,
        info.router,
        tasks.router,
    ]


ROUTERS = _routers
