"""`/v3/projects`: create (under a domain or a parent, with tags), list (filters by name,
domain, parent, enabled, is_domain and tags), show (with `parents_as_*`/`subtree_as_*`),
update, delete; and `/v3/users/{id}/projects`, the projects a user holds a role on."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import and_, or_, select

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http import auth
from overcast.identity import (
    assignment_list,
    domains,
    lookup,
    models,
    projects,
    revocation,
    roles,
    state,
    tags,
)
from overcast.identity.api import links, listing, schemas, targets, views

router = APIRouter(prefix="/v3")
P = models.Project


# A project acting as a domain (`is_domain`) is a domain: Keystone keeps its domains as such
# projects, and its project API reaches them by id. Here they are rows of the domain table,
# created, shown, changed and deleted through the project API as through the domain API.
_DOMAIN_SHAPE = ("is_domain", "domain_id", "parent_id")


@router.post("/projects", status_code=201)
async def create(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    values = (await links.parse(request, schemas.ProjectBody)).project.values()
    schemas.require_name(values, "project")
    if values.get("is_domain"):
        if values.get("domain_id") or values.get("parent_id"):
            raise errors.BadRequest("A project acting as a domain has no domain and no parent.")
        ident.enforce("identity:create_domain", ctx)
        async with ident.db.session() as session:
            domain = await domains.create(session, _domain_values(values))
        return {"project": views.domain_as_project(request, domain)}
    ident.enforce("identity:create_project", ctx, targets.in_domain(values.get("domain_id")))
    async with ident.db.session() as session:
        project = await projects.create(session, values, targets.default_domain(ctx))
    return {"project": views.project(request, project)}


def _domain_values(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in _DOMAIN_SHAPE}


async def _domain(session: Any, project_id: str) -> models.Domain | None:
    """The domain `project_id` names when no project has that id."""
    if await session.get(P, project_id) is not None:
        return None
    domain: models.Domain | None = await session.get(models.Domain, project_id)
    return domain


def _filtered(request: Request, stmt: Any) -> Any:
    params = request.query_params
    stmt = listing.where(stmt, P, params, ("name",))
    stmt = listing.enabled(stmt, P, params)
    if params.get("domain_id"):
        stmt = stmt.where(P.domain_id == params["domain_id"])
    if params.get("parent_id"):
        parent = params["parent_id"]
        stmt = stmt.where(
            or_(P.parent_id == parent, and_(P.parent_id.is_(None), P.domain_id == parent))
        )
    return stmt


async def _page(request: Request, session: Any, stmt: Any) -> dict[str, Any]:
    wanted = tags.parse_filters(request.query_params)
    keep = (lambda p: tags.matches(p.tags or [], wanted)) if wanted else None
    rows, extra = await listing.page(request, session, _filtered(request, stmt), P, keep)
    return {"projects": [views.project(request, p) for p in rows], **extra}


@router.get("/projects")
async def index(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    params = request.query_params
    domain_id = params.get("domain_id") or ctx.domain_id
    ident.enforce("identity:list_projects", ctx, targets.in_domain(domain_id))
    async with ident.db.reader() as session:
        if listing.flag(params.get("is_domain")):
            D = models.Domain
            stmt = listing.enabled(listing.where(select(D), D, params, ("name",)), D, params)
            rows, extra = await listing.page(request, session, stmt, D)
            return {"projects": [views.domain_as_project(request, d) for d in rows], **extra}
        stmt = select(P)
        if domain_id:
            stmt = stmt.where(P.domain_id == domain_id)
        return await _page(request, session, stmt)


async def _tree(request: Request, session: Any, project: models.Project) -> dict[str, Any]:
    params = request.query_params
    body: dict[str, Any] = {}
    if listing.flag(params.get("parents_as_list")):
        parents = await roles.ancestors(session, project)
        body["parents"] = [{"project": views.project(request, p)} for p in parents]
    if listing.flag(params.get("parents_as_ids")):
        nested: dict[str, Any] | None = {project.domain_id: None}
        for parent in reversed(await roles.ancestors(session, project)):
            nested = {parent.id: nested}
        body["parents"] = nested
    if listing.flag(params.get("subtree_as_list")):
        below = await projects.subtree(session, project.id)
        body["subtree"] = [{"project": views.project(request, p)} for p in below]
    if listing.flag(params.get("subtree_as_ids")):
        below = await projects.subtree(session, project.id)
        body["subtree"] = _ids_below(project.id, below)
    return body


def _ids_below(root: str, below: list[models.Project]) -> dict[str, Any] | None:
    kids: dict[str, list[str]] = {}
    for p in below:
        kids.setdefault(p.parent_id or "", []).append(p.id)

    def nest(node: str) -> dict[str, Any] | None:
        return {c: nest(c) for c in kids[node]} if node in kids else None

    return nest(root)


@router.get("/projects/{project_id}")
async def show(
    project_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    async with ident.db.reader() as session:
        domain = await _domain(session, project_id)
        if domain is not None:
            ident.enforce("identity:get_domain", ctx, targets.of("domain", domain))
            return {"project": views.domain_as_project(request, domain)}
        project = await lookup.get(session, P, project_id)
        ident.enforce("identity:get_project", ctx, targets.of("project", project))
        tree = await _tree(request, session, project)
    return {"project": {**views.project(request, project), **tree}}


@router.patch("/projects/{project_id}")
async def update(
    project_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Any:
    as_domain = await _update_domain(project_id, request, ctx)
    if as_domain is not None:
        return as_domain
    ident = state.get(request)
    async with ident.db.session() as session:
        project = await lookup.get(session, P, project_id)
        ident.enforce("identity:update_project", ctx, targets.of("project", project))
        values = (await links.parse(request, schemas.ProjectBody)).project.values()
        disabled = await projects.update(session, project, values)
    if disabled:
        await revocation.announce(ident.bus, project_id=project_id)
    return {"project": views.project(request, project)}


async def _update_domain(project_id: str, request: Request, ctx: RequestContext) -> Any:
    """PATCH of a project acting as a domain: the domain's update (None: not a domain)."""
    ident = state.get(request)
    async with ident.db.session() as session:
        domain = await _domain(session, project_id)
        if domain is None:
            return None
        ident.enforce("identity:update_domain", ctx, targets.of("domain", domain))
        values = (await links.parse(request, schemas.ProjectBody)).project.values()
        if values.get("is_domain") is False or values.get("domain_id") or values.get("parent_id"):
            raise errors.BadRequest("A project acting as a domain stays one, without a parent.")
        disabled = await domains.update(session, domain, _domain_values(values))
    if disabled:
        await revocation.announce(ident.bus, domain_id=project_id)
    return {"project": views.domain_as_project(request, domain)}


@router.delete("/projects/{project_id}", status_code=204)
async def delete(
    project_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = state.get(request)
    async with ident.db.session() as session:
        domain = await _domain(session, project_id)
        if domain is not None:  # a project acting as a domain: the domain goes
            ident.enforce("identity:delete_domain", ctx, targets.of("domain", domain))
            await domains.delete(session, domain)
        else:
            project = await lookup.get(session, P, project_id)
            ident.enforce("identity:delete_project", ctx, targets.of("project", project))
            await projects.delete(session, project)
    if domain is not None:
        await revocation.announce(ident.bus, domain_id=project_id)
    else:
        await revocation.announce(ident.bus, project_id=project_id)
    return Response(status_code=204)


@router.get("/users/{user_id}/projects")
async def of_user(
    user_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    async with ident.db.reader() as session:
        user = await lookup.get(session, models.User, user_id)
        ident.enforce("identity:list_user_projects", ctx, targets.of("user", user))
        ids = await assignment_list.project_ids(session, user_id)
        return await _page(request, session, select(P).where(P.id.in_(ids)))
