"""`/v3/services`: the catalog's services (create, list with `?type`/`?name`, show, update,
delete). Deleting a service deletes its endpoints; every change refreshes the catalog."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from overcast.common.context import RequestContext
from overcast.common.http import auth
from overcast.identity import catalog, endpoints, models, state
from overcast.identity.api import links

router = APIRouter(prefix="/v3/services")


class ServiceIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    type: str = Field(min_length=1, max_length=255)
    name: str | None = Field(None, max_length=255)
    description: str | None = Field(None, max_length=65535)
    enabled: bool = True


class ServicePatch(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    type: str | None = Field(None, min_length=1, max_length=255)
    name: str | None = Field(None, max_length=255)
    description: str | None = Field(None, max_length=65535)
    enabled: bool | None = None

    _not_null = links.not_null("type", "enabled")


class CreateBody(BaseModel):
    model_config = ConfigDict(strict=True)
    service: ServiceIn


class PatchBody(BaseModel):
    model_config = ConfigDict(strict=True)
    service: ServicePatch


def view(request: Request, service: models.Service) -> dict[str, Any]:
    out = {
        **(service.extra or {}),
        "id": service.id,
        "type": service.type,
        "enabled": service.enabled,
        "links": links.self_link(request, f"services/{service.id}"),
    }
    for key in ("name", "description"):
        if getattr(service, key) is not None:
            out[key] = getattr(service, key)
    return out


@router.post("", status_code=201)
async def create(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    ident.enforce("identity:create_service", ctx)
    body = (await links.parse(request, CreateBody)).service
    values = body.model_dump(include={"type", "name", "description", "enabled"})
    async with ident.db.session() as session:
        service = await endpoints.create_service(
            session, {**values, "extra": dict(body.model_extra or {})}
        )
    await catalog.announce(ident.bus)
    return {"service": view(request, service)}


@router.get("")
async def list_services(
    request: Request,
    type: str | None = None,
    name: str | None = None,
    ctx: RequestContext = Depends(auth.context),
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:list_services", ctx)
    async with ident.db.reader() as session:
        found = await endpoints.list_services(session, type, name)
    return {"services": [view(request, s) for s in found], "links": links.collection(request)}


@router.get("/{service_id}")
async def show(
    request: Request, service_id: str, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:get_service", ctx)
    async with ident.db.reader() as session:
        service = await endpoints.get_service(session, service_id)
    return {"service": view(request, service)}


@router.patch("/{service_id}")
async def update(
    request: Request, service_id: str, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:update_service", ctx)
    body = (await links.parse(request, PatchBody)).service
    fields = body.model_fields_set & {"type", "name", "description", "enabled"}
    changes = {name: getattr(body, name) for name in fields}
    async with ident.db.session() as session:
        service = await endpoints.get_service(session, service_id)
        await endpoints.update(session, service, changes, dict(body.model_extra or {}))
    await catalog.announce(ident.bus)
    return {"service": view(request, service)}


@router.delete("/{service_id}", status_code=204)
async def delete(
    request: Request, service_id: str, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = state.get(request)
    ident.enforce("identity:delete_service", ctx)
    async with ident.db.session() as session:
        await endpoints.delete_service(session, service_id)
    await catalog.announce(ident.bus)
    return Response(status_code=204)
