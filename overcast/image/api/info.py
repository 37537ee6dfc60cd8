"""Routes for discovery and stores: /v2/info/import, /v2/info/stores[/detail], /v2/info/usage,
and DELETE /v2/stores/{store}/{image} (drop one copy of an image's data)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.responses import Response

from overcast.common.context import RequestContext
from overcast.common.http.auth import context
from overcast.image import locations
from overcast.image.api import state
from overcast.image.state import ImageState

router = APIRouter(prefix="/v2")


@router.get("/info/import")
async def import_info(
    _ctx: RequestContext = Depends(context), st: ImageState = Depends(state)
) -> dict[str, Any]:
    return {
        "import-methods": {
            "description": "Import methods available.",
            "type": "array",
            "value": st.import_methods,
        }
    }


@router.get("/info/stores")
async def stores(
    _ctx: RequestContext = Depends(context), st: ImageState = Depends(state)
) -> dict[str, Any]:
    return {"stores": locations.store_list(st, detail=False)}


@router.get("/info/stores/detail")
async def stores_detail(
    ctx: RequestContext = Depends(context), st: ImageState = Depends(state)
) -> dict[str, Any]:
    st.policy.enforce("stores_info_detail", ctx)
    return {"stores": locations.store_list(st, detail=True)}


@router.get("/info/usage")
async def usage(
    ctx: RequestContext = Depends(context), st: ImageState = Depends(state)
) -> dict[str, Any]:
    return {"usage": await locations.usage(st, ctx)}


@router.delete("/stores/{store_id}/{image_id}", status_code=204)
async def delete_from_store(
    store_id: str,
    image_id: str,
    ctx: RequestContext = Depends(context),
    st: ImageState = Depends(state),
) -> Response:
    await locations.delete_from_store(st, ctx, store_id, image_id)
    return Response(status_code=204)
