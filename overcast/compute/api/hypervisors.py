"""os-hypervisors: compute nodes for admins. UUID ids, `with_servers` and the hostname pattern
from 2.53 (the `search`/`servers` paths before); from 2.88 no resource counters, no statistics,
and `uptime` in the detail instead of its own path."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request

from overcast.common import errors
from overcast.compute import hypervisors
from overcast.compute.api import inputs
from overcast.compute.api.deps import Req, req
from overcast.compute.hypervisors import Hypervisor

router = APIRouter()
RULE = "os_compute_api:os-hypervisors:"
_COUNTERS = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used")


def uptime() -> str:
    """What `uptime` prints, which is what Nova's drivers report."""
    try:
        with open("/proc/uptime") as handle:
            seconds = int(float(handle.read().split()[0]))
        load = os.getloadavg()
    except OSError:
        return ""
    days, rest = divmod(seconds, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    return f" up {days} days, {hours:2d}:{minutes:02d},  load average: " + ", ".join(
        f"{x:.2f}" for x in load
    )


def _view(r: Req, hyp: Hypervisor, *, detail: bool, servers: list[Any] | None) -> dict[str, Any]:
    node, svc = hyp.node, hyp.service
    uuids = r.at_least("2.53")
    out: dict[str, Any] = {
        "id": node.uuid if uuids else node.id,
        "hypervisor_hostname": node.hypervisor_hostname,
        "state": "up" if svc is not None and svc.up else "down",
        "status": "disabled" if svc is None or svc.row.disabled else "enabled",
    }
    if detail:
        out["hypervisor_type"] = node.hypervisor_type
        out["hypervisor_version"] = node.hypervisor_version
        out["host_ip"] = node.host_ip
        out["service"] = {
            "id": (svc.row.uuid if uuids else svc.row.id) if svc else None,
            "host": node.host,
            "disabled_reason": svc.row.disabled_reason if svc else None,
        }
        cpu_info = dict(node.cpu_info or {})
        out["cpu_info"] = cpu_info if r.at_least("2.28") else hypervisors.json_text(cpu_info)
        if r.at_least("2.88"):
            out["uptime"] = uptime()
        else:
            out.update({k: getattr(node, k) for k in _COUNTERS})
            out["free_ram_mb"] = node.memory_mb - node.memory_mb_used
            out["free_disk_gb"] = node.local_gb - node.local_gb_used
            out["disk_available_least"] = node.local_gb - node.local_gb_used
            out["current_workload"] = 0
            out["running_vms"] = node.running_vms
    if servers is not None and (servers or r.at_least("2.75")):
        out["servers"] = [{"name": i.name, "uuid": i.uuid} for i in servers]
    return out


async def _list(request: Request, r: Req, *, detail: bool) -> dict[str, Any]:
    query = request.query_params
    pattern = query.get("hypervisor_hostname_pattern") if r.at_least("2.53") else None
    with_servers = r.at_least("2.53") and inputs.boolean(
        query.get("with_servers", "false"), "with_servers"
    )
    limit = marker = None
    if r.at_least("2.33"):
        limit = inputs.query_int(query.get("limit"), "limit", minimum=0)
        marker = query.get("marker")
    if pattern is not None and (limit is not None or marker is not None):
        raise errors.BadRequest("Paging over hypervisors with a pattern is not supported.")
    async with r.state.db.reader() as session:
        found = await hypervisors.list_nodes(
            session,
            r.state.settings.compute,
            pattern=pattern,
            limit=limit,
            marker=marker,
            uuid_marker=r.at_least("2.53"),
        )
        servers = await hypervisors.servers_by_host(session) if with_servers else None
    key = "hypervisors"
    body: dict[str, Any] = {
        key: [
            _view(
                r,
                h,
                detail=detail,
                servers=(servers or {}).get(h.node.host, []) if with_servers else None,
            )
            for h in found
        ]
    }
    if limit and len(found) == limit:
        last = found[-1].node
        params = {**dict(query), "marker": last.uuid if r.at_least("2.53") else last.id}
        path = "/os-hypervisors/detail" if detail else "/os-hypervisors"
        body["hypervisors_links"] = [{"rel": "next", "href": r.url(f"{path}?{urlencode(params)}")}]
    return body


@router.get("/v2.1/os-hypervisors")
async def index(request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "list", {})
    return await _list(request, r, detail=False)


@router.get("/v2.1/os-hypervisors/detail")
async def detail(request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "list-detail", {})
    return await _list(request, r, detail=True)


@router.get("/v2.1/os-hypervisors/statistics")
async def statistics(r: Req = Depends(req)) -> dict[str, Any]:
    if r.at_least("2.88"):
        raise errors.NotFound("The resource could not be found.")
    r.enforce(RULE + "statistics", {})
    async with r.state.db.reader() as session:
        stats = await hypervisors.statistics(session)
    return {"hypervisor_statistics": stats}


@router.get("/v2.1/os-hypervisors/{hypervisor_id}")
async def show(hypervisor_id: str, request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "show", {})
    with_servers = r.at_least("2.53") and inputs.boolean(
        request.query_params.get("with_servers", "false"), "with_servers"
    )
    async with r.state.db.reader() as session:
        hyp = await hypervisors.get(
            session, r.state.settings.compute, hypervisor_id, r.at_least("2.53")
        )
        servers = (
            (await hypervisors.servers_by_host(session)).get(hyp.node.host, [])
            if with_servers
            else None
        )
    return {"hypervisor": _view(r, hyp, detail=True, servers=servers)}


@router.get("/v2.1/os-hypervisors/{hypervisor_id}/uptime")
async def show_uptime(hypervisor_id: str, r: Req = Depends(req)) -> dict[str, Any]:
    if r.at_least("2.88"):
        raise errors.NotFound("The resource could not be found.")
    r.enforce(RULE + "uptime", {})
    async with r.state.db.reader() as session:
        hyp = await hypervisors.get(
            session, r.state.settings.compute, hypervisor_id, r.at_least("2.53")
        )
    return {"hypervisor": {**_view(r, hyp, detail=False, servers=None), "uptime": uptime()}}


@router.get("/v2.1/os-hypervisors/{pattern}/search")
@router.get("/v2.1/os-hypervisors/{pattern}/servers")
async def search(pattern: str, request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    if r.at_least("2.53"):
        raise errors.NotFound("The resource could not be found.")
    with_servers = request.url.path.endswith("/servers")
    r.enforce(RULE + ("servers" if with_servers else "search"), {})
    async with r.state.db.reader() as session:
        found = await hypervisors.list_nodes(session, r.state.settings.compute, pattern=pattern)
        servers = await hypervisors.servers_by_host(session) if with_servers else {}
    views = [
        _view(r, h, detail=False, servers=servers.get(h.node.host, []) if with_servers else None)
        for h in found
    ]
    return {"hypervisors": views}
