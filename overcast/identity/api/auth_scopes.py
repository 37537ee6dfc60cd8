"""`/v3/auth/catalog`, `/v3/auth/projects`, `/v3/auth/domains`, `/v3/auth/system`: what the
caller's token may see and be scoped to (clients call these after an unscoped login)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http import auth
from overcast.identity import catalog as service_catalog
from overcast.identity import models, scopes, state
from overcast.identity.api import links

router = APIRouter(prefix="/v3/auth")


def _project(request: Request, project: models.Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "domain_id": project.domain_id,
        "parent_id": project.parent_id or project.domain_id,
        "description": project.description or "",
        "enabled": project.enabled,
        "is_domain": False,
        "tags": list(project.tags or []),
        "links": links.self_link(request, f"projects/{project.id}"),
    }


def _domain(request: Request, domain: models.Domain) -> dict[str, Any]:
    return {
        "id": domain.id,
        "name": domain.name,
        "description": domain.description or "",
        "enabled": domain.enabled,
        "tags": list(domain.tags or []),
        "links": links.self_link(request, f"domains/{domain.id}"),
    }


@router.get("/catalog")
async def catalog(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    ident.enforce("identity:get_auth_catalog", ctx)
    if ctx.scope == "unscoped":
        raise errors.Forbidden("The service catalog is given only to scoped tokens.")
    async with ident.db.reader() as session:
        found = service_catalog.for_project(await ident.catalog.get(session), ctx.project_id)
    return {"catalog": found, "links": links.collection(request)}


@router.get("/projects")
async def projects(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    ident.enforce("identity:get_auth_projects", ctx)
    async with ident.db.reader() as session:
        found = await scopes.projects_for_user(session, ctx.user_id or "")
    return {"projects": [_project(request, p) for p in found], "links": links.collection(request)}


@router.get("/domains")
async def domains(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    ident.enforce("identity:get_auth_domains", ctx)
    async with ident.db.reader() as session:
        found = await scopes.domains_for_user(session, ctx.user_id or "")
    return {"domains": [_domain(request, d) for d in found], "links": links.collection(request)}


@router.get("/system")
async def system(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    ident.enforce("identity:get_auth_system", ctx)
    async with ident.db.reader() as session:
        allowed = await scopes.has_system_role(session, ctx.user_id or "")
    return {"system": [{"all": True}] if allowed else [], "links": links.collection(request)}
