"""Instances: the list (filters and paging in one `servers/detail` call), the detail page
(server, its action log and console log), and its live status as JSON for the page's poller.
Actions are in `instance_actions.py`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from overcast.common import errors
from overcast.dashboard import paging, web
from overcast.dashboard.cloud import Get
from overcast.dashboard.pages import instance_actions, timeline

STATUSES = (
    "ACTIVE BUILD ERROR SHUTOFF PAUSED SUSPENDED SHELVED_OFFLOADED SHELVED RESCUE "
    "VERIFY_RESIZE REBOOT HARD_REBOOT RESIZE MIGRATING DELETED SOFT_DELETED"
).split()
PAGING = paging.sorted_by("created_at")


def addresses(server: dict[str, Any]) -> list[str]:
    return [
        f"{net}: {a.get('addr')}"
        for net, found in (server.get("addresses") or {}).items()
        for a in found
    ]


def row(server: dict[str, Any]) -> tuple[str, ...]:
    """What a list row shows, as strings: a page of 1,000 renders several times faster from
    tuples than from the API's nested dicts."""
    flavor = server.get("flavor") or {}
    return (
        server["id"],
        server.get("name") or "",
        server.get("status") or "",
        server.get("OS-EXT-STS:task_state") or "",
        ", ".join(addresses(server)),
        flavor.get("original_name") or flavor.get("id") or "",
        server.get("key_name") or "",
        server.get("created") or "",
    )


async def _list(p: web.Page) -> Response:
    q = p.request.query_params
    filters = {
        "name": q.get("name"),
        "status": q.get("status") if q.get("status") in STATUSES else None,
    }
    window = paging.window(p.request)
    body = await p.cloud.get("compute", "/servers/detail", **filters, **window.params(PAGING))
    servers = window.cut(body["servers"], PAGING, lambda s: s["id"])
    return p.render(
        "instances.html",
        rows=[row(s) for s in servers],
        filters=filters,
        limit=window.limit,
        links=window.links(filters),
        statuses=STATUSES,
        sizes=paging.SIZES,
    )


async def _detail(p: web.Page) -> Response:
    server_id = p.request.path_params["server_id"]
    server, actions, trace, volumes, networks, ports = await p.cloud.batch(
        Get("compute", f"/servers/{server_id}"),
        Get("compute", f"/servers/{server_id}/os-instance-actions"),
        timeline.trace_get("compute", f"/servers/{server_id}"),
        Get("block-storage", "/volumes/detail", {"status": "available"}, optional=True),
        Get("network", "/v2.0/networks", optional=True),
        Get("network", "/v2.0/ports", {"device_id": server_id}, optional=True),
    )
    own = p.session.project_id
    choices = {
        "volumes": _named((volumes or {}).get("volumes", [])),
        "attached": [
            (v["id"], v["id"])
            for v in server["server"].get("os-extended-volumes:volumes_attached", [])
        ],
        "networks": _named(
            n
            for n in (networks or {}).get("networks", [])
            if n.get("project_id") == own or n.get("shared") or n.get("router:external")
        ),
        "ports": [
            (
                port["id"],
                ", ".join(f["ip_address"] for f in port.get("fixed_ips", [])) or port["id"],
            )
            for port in (ports or {}).get("ports", [])
        ],
    }
    return p.render(
        "instance.html",
        server=server["server"],
        choices=choices,
        actions=actions["instanceActions"],
        trace=timeline.laid_out(trace),
        addresses=addresses,
        forms=instance_actions.FORMS,
        admin_forms=instance_actions.ADMIN_FORMS,
    )


def _named(items: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(i["id"], i.get("name") or i["id"]) for i in items]


async def _status(p: web.Page) -> Response:
    server_id = p.request.path_params["server_id"]
    server = (await p.cloud.get("compute", f"/servers/{server_id}"))["server"]
    return JSONResponse(
        {
            "status": server["status"],
            "task_state": server.get("OS-EXT-STS:task_state"),
            "power_state": server.get("OS-EXT-STS:power_state"),
            "fault": (server.get("fault") or {}).get("message"),
        }
    )


async def _console(p: web.Page) -> Response:
    server_id = p.request.path_params["server_id"]
    try:
        lines = int(p.request.query_params.get("lines", "200"))
    except ValueError:
        lines = 200
    server = (await p.cloud.get("compute", f"/servers/{server_id}"))["server"]
    try:
        body = await p.cloud.post(
            "compute",
            f"/servers/{server_id}/action",
            {"os-getConsoleOutput": {"length": max(1, min(lines, 10000))}},
        )
        output, error = body.get("output", ""), ""
    except (errors.Conflict, errors.NotSupported, errors.BadRequest) as exc:
        output, error = "", web.message(exc)
    return p.render("console.html", server=server, output=output, error=error, lines=lines)


routes = [
    Route("/project/instances", web.page(_list)),
    Route("/project/instances/{server_id}", web.page(_detail)),
    Route("/project/instances/{server_id}/status.json", web.page(_status)),
    Route("/project/instances/{server_id}/console", web.page(_console)),
    *instance_actions.routes,
    *timeline.routes,
]


async def _graphical(p: web.Page) -> Response:
    """The graphical console in the page: compute's noVNC client (from Debian's `novnc`)
    framed here, with a one-use console token made for this view."""
    server_id = p.request.path_params["server_id"]
    server = (await p.cloud.get("compute", f"/servers/{server_id}"))["server"]
    body = {"remote_console": {"protocol": "vnc", "type": "novnc"}}
    try:
        made = await p.cloud.post("compute", f"/servers/{server_id}/remote-consoles", body)
        url, error = made["remote_console"]["url"], ""
    except (errors.Conflict, errors.NotSupported, errors.BadRequest, errors.NotFound) as exc:
        url, error = "", web.message(exc)
    return p.render("vnc.html", server=server, url=url, error=error)


routes.append(Route("/project/instances/{server_id}/vnc", web.page(_graphical)))
