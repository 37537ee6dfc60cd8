"""`/v3/groups`: create, list (`?name`, `?domain_id`), show, update, delete; and membership:
`GET /v3/groups/{id}/users`, `PUT|HEAD|GET|DELETE /v3/groups/{id}/users/{user_id}`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http import auth
from overcast.identity import groups, lookup, models, revocation, state
from overcast.identity.api import links, listing, schemas, targets, views

router = APIRouter(prefix="/v3/groups")
G = models.Group


@router.post("", status_code=201)
async def create(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    values = (await links.parse(request, schemas.GroupBody)).group.values()
    schemas.require_name(values, "group")
    ident.enforce("identity:create_group", ctx, targets.in_domain(values.get("domain_id")))
    async with ident.db.session() as session:
        group = await groups.create(session, values, targets.default_domain(ctx))
    return {"group": views.group(request, group)}


@router.get("")
async def index(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    domain_id = request.query_params.get("domain_id") or ctx.domain_id
    ident.enforce("identity:list_groups", ctx, targets.in_domain(domain_id))
    stmt = listing.where(select(G), G, request.query_params, ("name",))
    if domain_id:
        stmt = stmt.where(G.domain_id == domain_id)
    async with ident.db.reader() as session:
        rows, extra = await listing.page(request, session, stmt, G)
    return {"groups": [views.group(request, g) for g in rows], **extra}


@router.get("/{group_id}")
async def show(group_id: str, request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    async with ident.db.reader() as session:
        group = await lookup.get(session, G, group_id)
    ident.enforce("identity:get_group", ctx, targets.of("group", group))
    return {"group": views.group(request, group)}


@router.patch("/{group_id}")
async def update(
    group_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    async with ident.db.session() as session:
        group = await lookup.get(session, G, group_id)
        ident.enforce("identity:update_group", ctx, targets.of("group", group))
        values = (await links.parse(request, schemas.GroupBody)).group.values()
        await groups.update(session, group, values)
    return {"group": views.group(request, group)}


@router.delete("/{group_id}", status_code=204)
async def delete(
    group_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = state.get(request)
    async with ident.db.session() as session:
        group = await lookup.get(session, G, group_id)
        ident.enforce("identity:delete_group", ctx, targets.of("group", group))
        await groups.delete(session, group)
    await revocation.announce(ident.bus, group_id=group_id)
    return Response(status_code=204)


@router.get("/{group_id}/users")
async def members(
    group_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    async with ident.db.reader() as session:
        group = await lookup.get(session, G, group_id)
        ident.enforce("identity:list_users_in_group", ctx, targets.of("group", group))
        U = models.User
        stmt = listing.where(
            await groups.members(session, group_id), U, request.query_params, ("name",)
        )
        rows, extra = await listing.page(
            request, session, listing.enabled(stmt, U, request.query_params), U
        )
    return {"users": [views.user(request, u) for u in rows], **extra}


async def _member_change(
    request: Request, ctx: RequestContext, group_id: str, user_id: str, rule: str
) -> Any:
    ident = state.get(request)
    async with ident.db.reader() as session:
        group = await lookup.get(session, G, group_id)
    ident.enforce(rule, ctx, targets.of("group", group))
    return ident


@router.put("/{group_id}/users/{user_id}", status_code=204)
async def add_member(
    group_id: str, user_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = await _member_change(request, ctx, group_id, user_id, "identity:add_user_to_group")
    try:
        async with ident.db.session() as session:
            await groups.add_user(session, group_id, user_id)
    except errors.Conflict:
        async with ident.db.reader() as session:  # a concurrent PUT added it first: fine
            await groups.check_user(session, group_id, user_id)
    return Response(status_code=204)


@router.api_route("/{group_id}/users/{user_id}", methods=["HEAD", "GET"], status_code=204)
async def check_member(
    group_id: str, user_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = await _member_change(request, ctx, group_id, user_id, "identity:check_user_in_group")
    async with ident.db.reader() as session:
        await groups.check_user(session, group_id, user_id)
    return Response(status_code=204)


@router.delete("/{group_id}/users/{user_id}", status_code=204)
async def remove_member(
    group_id: str, user_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = await _member_change(request, ctx, group_id, user_id, "identity:remove_user_from_group")
    async with ident.db.session() as session:
        await groups.remove_user(session, group_id, user_id)
    await revocation.announce(ident.bus, user_id=user_id)
    return Response(status_code=204)
