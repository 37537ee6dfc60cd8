"""os-simple-tenant-usage: server, vCPU, RAM and disk hours over a period; every project's for
admins (`?detailed=1` adds the servers), one project's for its members. Pages (limit/marker
over servers) from 2.40."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request

from overcast.common.db.base import utcnow
from overcast.compute import usage
from overcast.compute.api import inputs
from overcast.compute.api.deps import Req, req

router = APIRouter()
RULE = "os_compute_api:os-simple-tenant-usage:"


def _render(summary: dict[str, Any]) -> dict[str, Any]:
    out = {**summary, "start": inputs.isotime(summary["start"])}
    out["stop"] = inputs.isotime(summary["stop"])
    if "server_usages" in summary:
        out["server_usages"] = [
            {
                **s,
                "started_at": inputs.isotime(s["started_at"]),
                "ended_at": inputs.isotime(s["ended_at"]),
            }
            for s in summary["server_usages"]
        ]
    return out


async def _usages(
    request: Request, r: Req, project_id: str | None, detailed: bool
) -> tuple[list[dict[str, Any]], str | None]:
    """The summaries, and the `next` link when a page came back full."""
    query = request.query_params
    start, stop = usage.period(query.get("start"), query.get("end"))
    stop = min(stop, utcnow())
    maximum = r.state.settings.compute.max_list_limit
    limit, marker = maximum, None
    if r.at_least("2.40"):
        limit = min(inputs.query_int(query.get("limit"), "limit") or maximum, maximum)
        marker = query.get("marker")
    async with r.state.db.reader() as session:
        found = await usage.instances_in(
            session, start, stop, project_id, limit=limit, marker=marker
        )
    summaries = [
        _render(s)
        for s in usage.summarise(found, start, stop, detailed=detailed, project_id=project_id)
    ]
    link = None
    if r.at_least("2.40") and found and len(found) == limit:
        params = {**dict(query), "limit": limit, "marker": found[-1].uuid}
        path = "/os-simple-tenant-usage" + (f"/{project_id}" if project_id else "")
        link = r.url(f"{path}?{urlencode(params)}")
    return summaries, link


@router.get("/v2.1/os-simple-tenant-usage")
async def index(request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "list", {})
    # Nova reads only "1"; openstacksdk sends "True", which Nova takes for "no" (a quirk).
    detailed = request.query_params.get("detailed", "0").lower() in ("1", "true")
    summaries, link = await _usages(request, r, None, detailed)
    body: dict[str, Any] = {"tenant_usages": summaries}
    if link:
        body["tenant_usages_links"] = [{"rel": "next", "href": link}]
    return body


@router.get("/v2.1/os-simple-tenant-usage/{project_id}")
async def show(project_id: str, request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "show", {"project_id": project_id})
    summaries, link = await _usages(request, r, project_id, True)
    # Nova answers {} for a project that used nothing; a zero summary says the same and keeps
    # clients that format the totals (`openstack usage show`) working.
    body: dict[str, Any] = {"tenant_usage": summaries[0]}
    if link:
        body["tenant_usage_links"] = [{"rel": "next", "href": link}]
    return body
