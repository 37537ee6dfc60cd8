"""`/v3/users`: create, list (`?name`, `?domain_id`, `?enabled`), show, update, delete; a user
changing their own password (`POST /v3/users/{id}/password`) and listing their groups.

The password change needs no token (a user whose password expired has none): the original
password is the proof, and failures count towards lockout as logins do.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http import auth
from overcast.identity import groups, lookup, models, passwords, revocation, state, users
from overcast.identity.api import links, listing, schemas, targets, views

router = APIRouter(prefix="/v3/users")
U = models.User


@router.post("", status_code=201)
async def create(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    values = (await links.parse(request, schemas.UserBody)).user.values()
    schemas.require_name(values, "user")
    ident.enforce("identity:create_user", ctx, targets.in_domain(values.get("domain_id")))
    rounds = ident.settings.identity.password_hash_rounds
    async with ident.db.session() as session:
        user = await users.create(session, values, targets.default_domain(ctx), rounds)
    return {"user": views.user(request, user)}


@router.get("")
async def index(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    params = request.query_params
    domain_id = params.get("domain_id") or ctx.domain_id
    ident.enforce("identity:list_users", ctx, targets.in_domain(domain_id))
    stmt = listing.enabled(listing.where(select(U), U, params, ("name",)), U, params)
    if domain_id:
        stmt = stmt.where(U.domain_id == domain_id)
    if params.get("default_project_id"):
        stmt = stmt.where(U.default_project_id == params["default_project_id"])
    async with ident.db.reader() as session:
        rows, extra = await listing.page(request, session, stmt, U)
    return {"users": [views.user(request, u) for u in rows], **extra}


@router.get("/{user_id}")
async def show(user_id: str, request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    async with ident.db.reader() as session:
        user = await lookup.get(session, U, user_id)
    ident.enforce("identity:get_user", ctx, targets.of("user", user))
    return {"user": views.user(request, user)}


@router.patch("/{user_id}")
async def update(
    user_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    rounds = ident.settings.identity.password_hash_rounds
    async with ident.db.session() as session:
        user = await lookup.get(session, U, user_id)
        target = targets.of("user", user)
        ident.enforce("identity:update_user", ctx, target)
        values = (await links.parse(request, schemas.UserBody)).user.values()
        if set(values) - users.SELF_SERVICE:
            ident.enforce("identity:update_user_protected_attributes", ctx, target)
        revoke = await users.update(session, user, values, rounds)
    if revoke:
        await revocation.announce(ident.bus, user_id=user_id)
    return {"user": views.user(request, user)}


@router.delete("/{user_id}", status_code=204)
async def delete(
    user_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = state.get(request)
    async with ident.db.session() as session:
        user = await lookup.get(session, U, user_id)
        ident.enforce("identity:delete_user", ctx, targets.of("user", user))
        await users.delete(session, user)
    await revocation.announce(ident.bus, user_id=user_id)
    return Response(status_code=204)


@router.post("/{user_id}/password", status_code=204)
async def change_password(user_id: str, request: Request) -> Response:
    ident = state.get(request)
    body = (await links.parse(request, schemas.PasswordBody)).user
    changed = False
    async with ident.db.session() as session:
        user = await session.get(U, user_id)
        if user is not None:
            changed = await users.change_password(
                session, user, body.original_password, body.password, ident.settings.identity
            )
        else:
            await passwords.verify(body.original_password, None)  # same time either way
    if not changed:
        raise errors.Unauthorized(users.FAILED)
    await revocation.announce(ident.bus, user_id=user_id)
    return Response(status_code=204)


@router.get("/{user_id}/groups")
async def groups_of(
    user_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    async with ident.db.reader() as session:
        user = await lookup.get(session, U, user_id)
        ident.enforce("identity:list_groups_for_user", ctx, targets.of("user", user))
        stmt = listing.where(
            await groups.of_user(session, user_id), models.Group, request.query_params, ("name",)
        )
        rows, extra = await listing.page(request, session, stmt, models.Group)
    body = [{**views.group(request, g), "membership_expires_at": None} for g in rows]
    return {"groups": body, **extra}
