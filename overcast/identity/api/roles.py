"""`/v3/roles`: create, list (`?name`; global roles, or `?domain_id`'s), show, update, delete;
implied roles (`/v3/roles/{prior}/implies[/{implied}]`) and `/v3/role_inferences`.

Domain-specific roles are checked against the `*_domain_role` rules, as in Keystone.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from overcast.common.context import RequestContext
from overcast.common.http import auth
from overcast.identity import lookup, models, revocation, role_defs, state
from overcast.identity.api import links, listing, schemas, targets, views

router = APIRouter(prefix="/v3")
R = models.Role


def _rule(action: str, domain_id: str | None) -> str:
    noun = "domain_role" if domain_id else "role"
    return f"identity:{action}_{noun}s" if action == "list" else f"identity:{action}_{noun}"


@router.post("/roles", status_code=201)
async def create(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    values = (await links.parse(request, schemas.RoleBody)).role.values()
    schemas.require_name(values, "role")
    domain_id = values.get("domain_id")
    ident.enforce(_rule("create", domain_id), ctx, targets.in_domain(domain_id))
    async with ident.db.session() as session:
        role = await role_defs.create(session, values)
    return {"role": views.role(request, role)}


@router.get("/roles")
async def index(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    domain_id = request.query_params.get("domain_id")
    ident.enforce(_rule("list", domain_id), ctx, targets.in_domain(domain_id))
    stmt = listing.where(select(R), R, request.query_params, ("name",))
    stmt = stmt.where(R.domain_id == (domain_id or models.GLOBAL))
    async with ident.db.reader() as session:
        rows, extra = await listing.page(request, session, stmt, R)
    return {"roles": [views.role(request, r) for r in rows], **extra}


@router.get("/roles/{role_id}")
async def show(role_id: str, request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    async with ident.db.reader() as session:
        role = await lookup.get(session, R, role_id)
    ident.enforce(_rule("get", role.domain_id), ctx, targets.in_domain(role.domain_id))
    return {"role": views.role(request, role)}


@router.patch("/roles/{role_id}")
async def update(
    role_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    async with ident.db.session() as session:
        role = await lookup.get(session, R, role_id)
        ident.enforce(_rule("update", role.domain_id), ctx, targets.in_domain(role.domain_id))
        values = (await links.parse(request, schemas.RoleBody)).role.values()
        await role_defs.update(session, role, values)
    return {"role": views.role(request, role)}


@router.delete("/roles/{role_id}", status_code=204)
async def delete(
    role_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = state.get(request)
    async with ident.db.session() as session:
        role = await lookup.get(session, R, role_id)
        ident.enforce(_rule("delete", role.domain_id), ctx, targets.in_domain(role.domain_id))
        await role_defs.delete(session, role)
    await revocation.announce(ident.bus, role_id=role_id)
    return Response(status_code=204)


def _inference(request: Request, prior: Any, implied: Any) -> dict[str, Any]:
    return {
        "role_inference": {
            "prior_role": views.role_ref(request, prior),
            "implies": views.role_ref(request, implied),
        },
        "links": links.self_link(request, f"roles/{prior.id}/implies/{implied.id}"),
    }


@router.put("/roles/{prior_id}/implies/{implied_id}", status_code=201)
async def imply(
    prior_id: str, implied_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:create_implied_role", ctx)
    async with ident.db.session() as session:
        prior, implied = await role_defs.imply(session, prior_id, implied_id)
    await revocation.announce(ident.bus, role_id=prior_id)
    return _inference(request, prior, implied)


@router.get("/roles/{prior_id}/implies/{implied_id}")
async def show_implication(
    prior_id: str, implied_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:get_implied_role", ctx)
    async with ident.db.reader() as session:
        prior, implied, _row = await role_defs.get_implication(session, prior_id, implied_id)
    return _inference(request, prior, implied)


@router.head("/roles/{prior_id}/implies/{implied_id}", status_code=204)
async def check_implication(
    prior_id: str, implied_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = state.get(request)
    ident.enforce("identity:check_implied_role", ctx)
    async with ident.db.reader() as session:
        await role_defs.get_implication(session, prior_id, implied_id)
    return Response(status_code=204)


@router.delete("/roles/{prior_id}/implies/{implied_id}", status_code=204)
async def unimply(
    prior_id: str, implied_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = state.get(request)
    ident.enforce("identity:delete_implied_role", ctx)
    async with ident.db.session() as session:
        _prior, _implied, row = await role_defs.get_implication(session, prior_id, implied_id)
        await session.delete(row)
    await revocation.announce(ident.bus, role_id=prior_id)
    return Response(status_code=204)


@router.get("/roles/{prior_id}/implies")
async def implied_by(
    prior_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    ident.enforce("identity:list_implied_roles", ctx)
    async with ident.db.reader() as session:
        prior, implied = await role_defs.implied_by(session, prior_id)
    return {
        "role_inference": {
            "prior_role": views.role_ref(request, prior),
            "implies": [views.role_ref(request, r) for r in implied],
        },
        "links": links.self_link(request, f"roles/{prior_id}/implies"),
    }


@router.get("/role_inferences")
async def inferences(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    ident.enforce("identity:list_role_inference_rules", ctx)
    async with ident.db.reader() as session:
        rules = await role_defs.all_implications(session)
    body = [
        {
            "prior_role": views.role_ref(request, prior),
            "implies": [views.role_ref(request, r) for r in implied],
        }
        for prior, implied in rules
    ]
    return {"role_inferences": body, "links": links.collection(request)}
