"""`/v3/endpoints`: where each service answers, per interface and region (create, list with
`?service_id`/`?interface`/`?region_id`, show, update, delete). Changes refresh the catalog."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from overcast.common.context import RequestContext
from overcast.common.http import auth
from overcast.identity import catalog, endpoints, models, state
from overcast.identity.api import links

router = APIRouter(prefix="/v3/endpoints")

Interface = Literal["public", "internal", "admin"]
URL_PATTERN = r"^[a-zA-Z0-9+.-]+:.+"


class EndpointIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    interface: Interface
    service_id: str = Field(min_length=1, max_length=64)
    url: str = Field(min_length=1, max_length=225, pattern=URL_PATTERN)
    region_id: str | None = Field(None, min_length=1, max_length=255)
    region: str | None = Field(None, min_length=1, max_length=255)  # the old name of region_id
    enabled: bool = True


class EndpointPatch(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    interface: Interface | None = None
    service_id: str | None = Field(None, min_length=1, max_length=64)
    url: str | None = Field(None, min_length=1, max_length=225, pattern=URL_PATTERN)
    region_id: str | None = Field(None, min_length=1, max_length=255)
    region: str | None = Field(None, min_length=1, max_length=255)
    enabled: bool | None = None

    _not_null = links.not_null("interface", "service_id", "url", "enabled")


class CreateBody(BaseModel):
    model_config = ConfigDict(strict=True)
    endpoint: EndpointIn


class PatchBody(BaseModel):
    model_config = ConfigDict(strict=True)
    endpoint: EndpointPatch


COLUMNS = {"interface", "service_id", "url", "region_id", "enabled"}


def view(request: Request, endpoint: models.Endpoint) -> dict[str, Any]:
    return {
        **(endpoint.extra or {}),
        "id": endpoint.id,
        "interface": endpoint.interface,
        "service_id": endpoint.service_id,
        "url": endpoint.url,
        "region": endpoint.region_id,
        "region_id": endpoint.region_id,
        "enabled": endpoint.enabled,
        "links": links.self_link(request, f"endpoints/{endpoint.id}"),
    }


def _changes(body: EndpointIn | EndpointPatch) -> dict[str, Any]:
    given = body.model_fields_set
    changes = {name: getattr(body, name) for name in given & COLUMNS}
    if "region" in given and "region_id" not in given:
        changes["region_id"] = body.region
    return changes


@router.post("", status_code=201)
async def create(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    ident.enforce("identity:create_endpoint", ctx)
    body = (await links.parse(request, CreateBody)).endpoint
    values = {"enabled": True, "region_id": None, **_changes(body)}
    async with ident.db.session() as session:
        endpoint = await endpoints.create_endpoint(
            session,
            {**values, "extra": dict(body.model_extra or {})},
            legacy_region="region_id" not in body.model_fields_set,
        )
    await catalog.announce(ident.bus)
    return {"endpoint": view(request, endpoint)}


@router.get("")
async def list_endpoints(
    request: Request,
    service_id: str | None = None,
    interface: str | None = None,
    region_id: str | None = None,
    ctx: RequestContext = Depends(auth.context),
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:list_endpoints", ctx)
    async with ident.db.reader() as session:
        found = await endpoints.list_endpoints(session, service_id, interface, region_id)
    return {"endpoints": [view(request, e) for e in found], "links": links.collection(request)}


@router.get("/{endpoint_id}")
async def show(
    request: Request, endpoint_id: str, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:get_endpoint", ctx)
    async with ident.db.reader() as session:
        endpoint = await endpoints.get_endpoint(session, endpoint_id)
    return {"endpoint": view(request, endpoint)}


@router.patch("/{endpoint_id}")
async def update(
    request: Request, endpoint_id: str, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:update_endpoint", ctx)
    body = (await links.parse(request, PatchBody)).endpoint
    async with ident.db.session() as session:
        endpoint = await endpoints.get_endpoint(session, endpoint_id)
        await endpoints.update(
            session,
            endpoint,
            _changes(body),
            dict(body.model_extra or {}),
            legacy_region="region_id" not in body.model_fields_set,
        )
    await catalog.announce(ident.bus)
    return {"endpoint": view(request, endpoint)}


@router.delete("/{endpoint_id}", status_code=204)
async def delete(
    request: Request, endpoint_id: str, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = state.get(request)
    ident.enforce("identity:delete_endpoint", ctx)
    async with ident.db.session() as session:
        await session.delete(await endpoints.get_endpoint(session, endpoint_id))
    await catalog.announce(ident.bus)
    return Response(status_code=204)
