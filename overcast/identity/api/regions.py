"""`/v3/regions`: create (POST, or PUT with the id), list (`?parent_region_id`), show, update,
delete. Attributes Keystone does not know are kept and returned, as Keystone does."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http import auth
from overcast.identity import models, regions, state
from overcast.identity.api import links

router = APIRouter(prefix="/v3/regions")


class RegionIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    id: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, max_length=255)
    parent_region_id: str | None = Field(None, min_length=1, max_length=255)


class RegionBody(BaseModel):
    model_config = ConfigDict(strict=True)
    region: RegionIn


def view(request: Request, region: models.Region) -> dict[str, Any]:
    return {
        **(region.extra or {}),
        "id": region.id,
        "description": region.description or "",
        "parent_region_id": region.parent_region_id,
        "links": links.self_link(request, f"regions/{region.id}"),
    }


async def _create(request: Request, ctx: RequestContext, region_id: str | None) -> Any:
    ident = state.get(request)
    ident.enforce("identity:create_region", ctx)
    body = (await links.parse(request, RegionBody)).region
    if region_id is not None and body.id not in (None, region_id):
        raise errors.BadRequest("The region id in the body does not match the URL.")
    async with ident.db.session() as session:
        region = await regions.create(
            session,
            region_id or body.id,
            body.description,
            body.parent_region_id,
            dict(body.model_extra or {}),
        )
    return {"region": view(request, region)}


@router.post("", status_code=201)
async def create(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    return await _create(request, ctx, None)


@router.put("/{region_id}", status_code=201)
async def create_with_id(
    request: Request, region_id: str, ctx: RequestContext = Depends(auth.context)
) -> Any:
    return await _create(request, ctx, region_id)


@router.get("")
async def list_regions(
    request: Request,
    parent_region_id: str | None = None,
    ctx: RequestContext = Depends(auth.context),
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:list_regions", ctx)
    async with ident.db.reader() as session:
        found = await regions.list_(session, parent_region_id)
    return {"regions": [view(request, r) for r in found], "links": links.collection(request)}


@router.get("/{region_id}")
async def show(
    request: Request, region_id: str, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:get_region", ctx)
    async with ident.db.reader() as session:
        region = await regions.get(session, region_id)
    return {"region": view(request, region)}


@router.patch("/{region_id}")
async def update(
    request: Request, region_id: str, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:update_region", ctx)
    body = (await links.parse(request, RegionBody)).region
    if body.id not in (None, region_id):
        raise errors.BadRequest("The id of a region cannot change.")
    fields = body.model_fields_set & {"description", "parent_region_id"}
    changes = {name: getattr(body, name) for name in fields}
    async with ident.db.session() as session:
        region = await regions.update(session, region_id, changes, dict(body.model_extra or {}))
    return {"region": view(request, region)}


@router.delete("/{region_id}", status_code=204)
async def delete(
    request: Request, region_id: str, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = state.get(request)
    ident.enforce("identity:delete_region", ctx)
    async with ident.db.session() as session:
        await regions.delete(session, region_id)
    return Response(status_code=204)
