"""Routes for /v2/schemas/{name}: the JSON schemas clients such as glanceclient read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http.auth import context
from overcast.image import schemas
from overcast.image.api import state
from overcast.image.state import ImageState

router = APIRouter(prefix="/v2/schemas")


@router.get("/{name}")
async def show(
    name: str, _ctx: RequestContext = Depends(context), st: ImageState = Depends(state)
) -> dict[str, Any]:
    found = schemas.all_schemas(st.settings.image).get(name)
    if found is None:
        raise errors.NotFound(f"No schema named {name}.")
    return found
