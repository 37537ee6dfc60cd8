"""Grants by URL: `PUT|HEAD|GET|DELETE` one and `GET` the list, for users and groups on
projects and domains (`/v3/projects/{p}/users/{u}/roles/{r}`), on the system
(`/v3/system/users/{u}/roles/{r}`) and inherited to projects
(`/v3/OS-INHERIT/domains/{d}/groups/{g}/roles/{r}/inherited_to_projects`).

The routes are made in a loop over those shapes; each reads its ids from the path.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http import auth
from overcast.identity import grants, models, revocation, roles, state
from overcast.identity.api import links, targets, views

router = APIRouter(prefix="/v3")
VERBS = {"put": "create", "check": "check", "delete": "revoke", "list": "list"}


def _rule(verb: str, actor: str, target: str) -> str:
    if target == "system":
        noun = "grants" if verb == "list" else "grant"
        return f"identity:{VERBS[verb]}_system_{noun}_for_{actor}"
    return "identity:list_grants" if verb == "list" else f"identity:{VERBS[verb]}_grant"


async def _enforce(
    request: Request,
    ctx: RequestContext,
    session: AsyncSession,
    verb: str,
    actor: str,
    target: str,
) -> None:
    params = request.path_params
    domain_id = params.get("target_id") if target == "domain" else None
    if target == "project":
        project = await session.get(models.Project, params["target_id"])
        domain_id = project.domain_id if project is not None else None
    policy_target = {
        **targets.in_domain(domain_id),
        "target": {actor: {"id": params["actor_id"]}},
    }
    state.get(request).enforce(_rule(verb, actor, target), ctx, policy_target)


def _grant(request: Request, actor: str, target: str, inherited: bool) -> grants.Grant:
    params = request.path_params
    return grants.Grant(
        actor=actor,
        actor_id=params["actor_id"],
        target=target,
        target_id=params.get("target_id", roles.SYSTEM),
        role_id=params["role_id"],
        inherited=inherited,
    )


def _add_routes(actor: str, target: str, inherited: bool) -> None:
    if target == "system":
        base = f"/system/{actor}s/{{actor_id}}/roles"
    else:
        base = f"/{target}s/{{target_id}}/{actor}s/{{actor_id}}/roles"
    prefix, suffix = ("/OS-INHERIT", "/inherited_to_projects") if inherited else ("", "")
    one = f"{prefix}{base}/{{role_id}}{suffix}"
    every = f"{prefix}{base}{suffix}"

    async def put(request: Request, ctx: RequestContext = Depends(auth.context)) -> Response:
        ident = state.get(request)
        grant = _grant(request, actor, target, inherited)
        try:
            async with ident.db.session() as session:
                await _enforce(request, ctx, session, "put", actor, target)
                await grants.put(session, grant)
        except errors.Conflict:
            async with ident.db.reader() as session:  # a concurrent PUT stored it first: fine
                await grants.check(session, grant)
        return Response(status_code=204)

    async def check(request: Request, ctx: RequestContext = Depends(auth.context)) -> Response:
        ident = state.get(request)
        async with ident.db.reader() as session:
            await _enforce(request, ctx, session, "check", actor, target)
            await grants.check(session, _grant(request, actor, target, inherited))
        return Response(status_code=204)

    async def delete(request: Request, ctx: RequestContext = Depends(auth.context)) -> Response:
        ident = state.get(request)
        grant = _grant(request, actor, target, inherited)
        async with ident.db.session() as session:
            await _enforce(request, ctx, session, "delete", actor, target)
            await grants.remove(session, grant)
        await revocation.announce(ident.bus, **{f"{actor}_id": grant.actor_id})
        return Response(status_code=204)

    async def index(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
        ident = state.get(request)
        params = request.path_params
        async with ident.db.reader() as session:
            await _enforce(request, ctx, session, "list", actor, target)
            found = await grants.roles_of(
                session,
                actor,
                params["actor_id"],
                target,
                params.get("target_id", roles.SYSTEM),
                inherited,
            )
        return {
            "roles": [views.role(request, r) for r in found],
            "links": links.collection(request),
        }

    name = f"{actor}_{target}{'_inherited' if inherited else ''}"
    router.add_api_route(one, put, methods=["PUT"], status_code=204, name=f"put_{name}")
    router.add_api_route(one, check, methods=["HEAD", "GET"], status_code=204, name=f"check_{name}")
    router.add_api_route(one, delete, methods=["DELETE"], status_code=204, name=f"del_{name}")
    router.add_api_route(every, index, methods=["GET"], name=f"list_{name}")


for _actor in ("user", "group"):
    for _target in ("project", "domain", "system"):
        _add_routes(_actor, _target, inherited=False)
    for _target in ("project", "domain"):
        _add_routes(_actor, _target, inherited=True)
