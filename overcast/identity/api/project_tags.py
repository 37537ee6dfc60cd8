"""`/v3/projects/{id}/tags`: list, replace all (PUT), remove all (DELETE); and one tag:
check (GET/HEAD), add (PUT, 201) and remove (DELETE)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http import auth, headers
from overcast.identity import lookup, models, projects, state
from overcast.identity.api import links, schemas, targets

router = APIRouter(prefix="/v3/projects/{project_id}/tags")


async def _read(request: Request, ctx: RequestContext, project_id: str, rule: str) -> Any:
    ident = state.get(request)
    async with ident.db.reader() as session:
        project = await lookup.get(session, models.Project, project_id)
    ident.enforce(rule, ctx, targets.of("project", project))
    return project


@router.get("")
async def index(
    project_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Any:
    project = await _read(request, ctx, project_id, "identity:list_project_tags")
    return {"tags": list(project.tags or [])}


@router.put("")
async def replace(
    project_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Any:
    ident = state.get(request)
    async with ident.db.session() as session:
        project = await lookup.get(session, models.Project, project_id)
        ident.enforce("identity:update_project_tags", ctx, targets.of("project", project))
        body = await links.parse(request, schemas.TagsBody)
        await projects.set_tags(session, project, list(body.tags))
    return {"tags": list(project.tags)}


@router.delete("", status_code=204)
async def clear(
    project_id: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = state.get(request)
    async with ident.db.session() as session:
        project = await lookup.get(session, models.Project, project_id)
        ident.enforce("identity:delete_project_tags", ctx, targets.of("project", project))
        await projects.set_tags(session, project, [])
    return Response(status_code=204)


@router.api_route("/{tag}", methods=["GET", "HEAD"], status_code=204)
async def check(
    project_id: str, tag: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Response:
    project = await _read(request, ctx, project_id, "identity:get_project_tag")
    if tag not in (project.tags or []):
        raise errors.NotFound(f"Tag {tag} was not found on project {project_id}.")
    return Response(status_code=204)


@router.put("/{tag}", status_code=201)
async def add(
    project_id: str, tag: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = state.get(request)
    async with ident.db.session() as session:
        project = await lookup.get(session, models.Project, project_id)
        ident.enforce("identity:create_project_tag", ctx, targets.of("project", project))
        await projects.add_tag(session, project, tag)
    return Response(status_code=201, headers={"Location": headers.location(str(request.url))})


@router.delete("/{tag}", status_code=204)
async def remove(
    project_id: str, tag: str, request: Request, ctx: RequestContext = Depends(auth.context)
) -> Response:
    ident = state.get(request)
    async with ident.db.session() as session:
        project = await lookup.get(session, models.Project, project_id)
        ident.enforce("identity:delete_project_tag", ctx, targets.of("project", project))
        await projects.remove_tag(session, project, tag)
    return Response(status_code=204)
