"""os-server-groups: (anti-)affinity groups of a project. Soft policies from 2.15, project and
user ids in the view from 2.13, one `policy` with `rules` instead of `policies` from 2.64.
Another project's group is answered 404, as if it did not exist."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from overcast.compute import server_groups
from overcast.compute.api import inputs
from overcast.compute.api.deps import Req, json_body, req
from overcast.compute.models.server_groups import ServerGroup
from overcast.compute.server_groups import POLICIES, SOFT_POLICIES

router = APIRouter()
RULE = "os_compute_api:os-server-groups:"


def _view(r: Req, group: ServerGroup, members: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": group.uuid, "name": group.name}
    if r.at_least("2.64"):
        out["policy"] = group.policy
        out["rules"] = dict(group.rules or {})
    else:
        out["policies"] = [group.policy]
        out["metadata"] = {}
    out["members"] = members
    if r.at_least("2.13"):
        out["project_id"] = group.project_id
        out["user_id"] = group.user_id
    return out


async def _members(session: Any, group: ServerGroup) -> list[str]:
    return [u for u, _ in await server_groups.live_members(session, group.uuid)]


async def _visible(r: Req, session: Any, group_id: str, action: str) -> ServerGroup:
    """The group, if the caller may `action` it; 404 for another project's."""
    group = await server_groups.get(session, group_id)
    if not r.allowed(RULE + action, {"project_id": group.project_id}):
        if group.project_id != r.ctx.project_id:
            raise server_groups.not_found(group_id)
        r.enforce(RULE + action, {"project_id": group.project_id})
    return group


def _policy(r: Req, group: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    choices = [*POLICIES, *(SOFT_POLICIES if r.at_least("2.15") else ())]
    if r.at_least("2.64"):
        policy = inputs.required(group, "policy", "server_group")
        field, rules = "policy", group.get("rules") or {}
        if not isinstance(rules, dict):
            raise inputs.invalid("rules", rules, f"{rules!r} is not of type 'object'")
    else:
        policies = inputs.required(group, "policies", "server_group")
        if not isinstance(policies, list) or len(policies) != 1:
            raise inputs.invalid(
                "policies", policies, "policies must be a list holding exactly one policy"
            )
        policy, field, rules = policies[0], "0", {}
    if policy not in choices:
        raise inputs.invalid(field, policy, f"{policy!r} is not one of {choices}")
    return policy, rules


@router.get("/v2.1/os-server-groups")
async def index(request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "index")
    query = request.query_params
    everyone = "all_projects" in query and inputs.boolean(
        query["all_projects"] or "true", "all_projects"
    )
    project = None if everyone and r.allowed(RULE + "index:all_projects") else r.ctx.project_id
    limit = inputs.query_int(query.get("limit"), "limit", minimum=0)
    offset = inputs.query_int(query.get("offset"), "offset", minimum=0) or 0
    async with r.state.db.reader() as session:
        found = await server_groups.list_groups(session, project, limit=limit, offset=offset)
        return {"server_groups": [_view(r, g, await _members(session, g)) for g in found]}


@router.post("/v2.1/os-server-groups")
async def create(request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "create")
    body = await json_body(request)
    allowed = {"name", "policy", "rules"} if r.at_least("2.64") else {"name", "policies"}
    group = inputs.section(body, "server_group", allowed)
    name = inputs.name(inputs.required(group, "name", "server_group"))
    policy, rules = _policy(r, group)
    async with r.state.db.session() as session:
        made = await server_groups.create(
            session, r.ctx.project_id or "", r.ctx.user_id or "", name, policy, rules
        )
        return {"server_group": _view(r, made, [])}


@router.get("/v2.1/os-server-groups/{group_id}")
async def show(group_id: str, r: Req = Depends(req)) -> dict[str, Any]:
    async with r.state.db.reader() as session:
        group = await _visible(r, session, group_id, "show")
        return {"server_group": _view(r, group, await _members(session, group))}


@router.delete("/v2.1/os-server-groups/{group_id}")
async def delete(group_id: str, r: Req = Depends(req)) -> Response:
    async with r.state.db.session() as session:
        group = await _visible(r, session, group_id, "delete")
        await server_groups.delete(session, group)
    return Response(status_code=204)
