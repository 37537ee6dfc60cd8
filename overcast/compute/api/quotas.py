"""os-quota-sets and os-quota-class-sets: a project's limits (with usage at `/detail`), the
defaults, and an admin's changes. The resources shown follow the microversion: nova-network's
disappear at 2.36 (2.50 for classes), the injected-file limits at 2.57."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from overcast.common import errors
from overcast.compute import quotas
from overcast.compute.api import inputs
from overcast.compute.api.deps import Req, json_body, req

router = APIRouter()
RULE = "os_compute_api:os-quota-sets:"
CLASS_RULE = "os_compute_api:os-quota-class-sets:"
_NETWORK = ("floating_ips", "fixed_ips", "security_groups", "security_group_rules")
_INJECTED = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")
_GROUPS = ("server_groups", "server_group_members")
_MAX = 0x7FFFFFFF


def shown(r: Req, *, classes: bool = False) -> list[str]:
    """The resources this microversion shows, in Nova's order."""
    hidden: set[str] = set()
    if r.at_least("2.50" if classes else "2.36"):
        hidden.update(_NETWORK)
    elif classes:
        hidden.update(_GROUPS)
    if r.at_least("2.57"):
        hidden.update(_INJECTED)
    return sorted(k for k in quotas.DEFAULTS if k not in hidden)


def _values(r: Req, body: dict[str, Any], key: str, *, classes: bool = False) -> dict[str, Any]:
    """The limits in a PUT body (and its `force` flag, for projects)."""
    names = shown(r, classes=classes)
    section = inputs.section(body, key, {*names, *(() if classes else ("force",))})
    values: dict[str, Any] = {}
    for name, value in section.items():
        if name == "force":
            values[name] = inputs.boolean(value, "force")
        else:
            values[name] = inputs.integer(value, name, minimum=-1, maximum=_MAX)
    return values


def _project_target(project_id: str, request: Request) -> dict[str, Any]:
    return {"project_id": project_id, "user_id": request.query_params.get("user_id")}


@router.get("/v2.1/os-quota-sets/{project_id}")
async def show(project_id: str, request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "show", _project_target(project_id, request))
    user_id = request.query_params.get("user_id") or None
    async with r.state.db.reader() as session:
        limits = await quotas.limits(session, project_id, user_id)
    return {"quota_set": {"id": project_id, **{k: limits[k] for k in shown(r)}}}


@router.get("/v2.1/os-quota-sets/{project_id}/detail")
async def detail(project_id: str, request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "detail", _project_target(project_id, request))
    user_id = request.query_params.get("user_id") or None
    async with r.state.db.reader() as session:
        limits = await quotas.limits(session, project_id, user_id)
        used = await quotas.usage(session, project_id, user_id, of_user=user_id is not None)
    body: dict[str, Any] = {
        k: {"limit": limits[k], "in_use": used.get(k, 0), "reserved": 0} for k in shown(r)
    }
    return {"quota_set": {"id": project_id, **body}}


@router.get("/v2.1/os-quota-sets/{project_id}/defaults")
async def defaults(project_id: str, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "defaults", {"project_id": project_id})
    async with r.state.db.reader() as session:
        values = await quotas.defaults(session)
    return {"quota_set": {"id": project_id, **{k: values[k] for k in shown(r)}}}


@router.put("/v2.1/os-quota-sets/{project_id}")
async def update(project_id: str, request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "update", {"project_id": project_id})
    user_id = request.query_params.get("user_id") or None
    values = _values(r, await json_body(request), "quota_set")
    force = bool(values.pop("force", False))
    if await r.state.remote.identity(r.ctx.to_dict()).project_exists(project_id) is False:
        raise errors.BadRequest(f"Project ID {project_id} is not a valid project.")
    async with r.state.boot_cache.announcing(), r.state.db.session() as session:
        if user_id is None:
            await quotas.update_project(session, project_id, values, force=force)
        else:
            await quotas.update_user(session, project_id, user_id, values, force=force)
        limits = await quotas.limits(session, project_id, user_id)
    return {"quota_set": {k: limits[k] for k in shown(r)}}


@router.delete("/v2.1/os-quota-sets/{project_id}")
async def revert(project_id: str, request: Request, r: Req = Depends(req)) -> Response:
    r.enforce(RULE + "delete", {"project_id": project_id})
    user_id = request.query_params.get("user_id") or None
    async with r.state.boot_cache.announcing(), r.state.db.session() as session:
        await quotas.reset_project(session, project_id, user_id)
    return Response(status_code=202)


@router.get("/v2.1/os-quota-class-sets/{class_name}")
async def show_class(class_name: str, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(CLASS_RULE + "show", {"quota_class": class_name})
    async with r.state.db.reader() as session:
        values = await quotas.class_limits(session, class_name)
    names = shown(r, classes=True)
    return {"quota_class_set": {"id": class_name, **{k: values[k] for k in names}}}


@router.put("/v2.1/os-quota-class-sets/{class_name}")
async def update_class(class_name: str, request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(CLASS_RULE + "update", {"quota_class": class_name})
    inputs.string(class_name, "id")
    values = _values(r, await json_body(request), "quota_class_set", classes=True)
    async with r.state.boot_cache.announcing(), r.state.db.session() as session:
        await quotas.update_class(session, class_name, values)
        current = await quotas.class_limits(session, class_name)
    return {"quota_class_set": {k: current[k] for k in shown(r, classes=True)}}
