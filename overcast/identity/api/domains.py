"""`/v3/domains`: create, list (`?name`, `?enabled`), show, update, delete (only when disabled)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from overcast.common.context import RequestContext
from overcast.common.http import auth
from overcast.identity import domains, lookup, models, revocation, state
from overcast.identity.api import links, listing, schemas, targets, views

router = APIRouter(prefix="/v3/domains")


@router.post("", status_code=201)
async def create(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    ident.enforce("identity:create_domain", ctx)
    values = (await links.parse(request, schemas.DomainBody)).domain.values()
    schemas.require_name(values, "domain")
    async with ident.db.session() as session:
        domain = await domains.create(session, values)
    return {"domain": views.domain(request, domain)}


@router.get("")
async def index(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    ident.enforce("identity:list_domains", ctx)
    D = models.Domain
    stmt = listing.where(select(D), D, request.query_params, ("name",))
    stmt = listing.enabled(stmt, D, request.query_params)
    async with ident.db.reader() as session:
        rows, extra = await listing.page(request, session, stmt, D)
    return {"domains": [views.domain(request, d) for d in rows], **extra}


@router.get("/{domain_id}")
async def show(
    domain_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    async with ident.db.reader() as session:
        domain = await lookup.get(session, models.Domain, domain_id)
    ident.enforce("identity:get_domain", ctx, targets.of("domain", domain))
    return {"domain": views.domain(request, domain)}


@router.patch("/{domain_id}")
async def update(
    domain_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:update_domain", ctx, {"target": {"domain": {"id": domain_id}}})
    values = (await links.parse(request, schemas.DomainBody)).domain.values()
    async with ident.db.session() as session:
        domain = await lookup.get(session, models.Domain, domain_id)
        disabled = await domains.update(session, domain, values)
    if disabled:
        await revocation.announce(ident.bus, domain_id=domain_id)
    return {"domain": views.domain(request, domain)}


@router.delete("/{domain_id}", status_code=204)
async def delete(
    domain_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = state.get(request)
    ident.enforce("identity:delete_domain", ctx, {"target": {"domain": {"id": domain_id}}})
    async with ident.db.session() as session:
        domain = await lookup.get(session, models.Domain, domain_id)
        await domains.delete(session, domain)
    await revocation.announce(ident.bus, domain_id=domain_id)
    return Response(status_code=204)
