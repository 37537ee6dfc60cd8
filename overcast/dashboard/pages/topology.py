"""The network topology of the user's project, drawn server side as SVG: networks as
horizontal lines, routers and instances as boxes above them, a link for each of their ports.
Four lists, read in one batch; only the project's own ports, routers and instances, and
the networks they use or own (shared and external ones included). The page's script fetches
`topology.svg` again every few seconds, so the drawing follows changes."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from overcast.dashboard import web
from overcast.dashboard.cloud import Get

MAX_DEVICES = 300
COL, ROW, LEFT, TOP = 96, 44, 200, 90


async def model(p: web.Page) -> dict[str, Any]:
    own = p.session.project_id
    networks, routers, ports, servers = await p.cloud.batch(
        Get("network", "/v2.0/networks"),
        Get("network", "/v2.0/routers", {"project_id": own}),
        Get("network", "/v2.0/ports", {"project_id": own}),
        Get("compute", "/servers", {"limit": MAX_DEVICES}),
    )
    mine = [
        n
        for n in networks["networks"]
        if n.get("project_id") == own or n.get("shared") or n.get("router:external")
    ]
    devices = [("router", r["id"], r.get("name") or r["id"][:8]) for r in routers["routers"]]
    devices += [("instance", s["id"], s.get("name") or s["id"][:8]) for s in servers["servers"]]
    more = max(0, len(devices) - MAX_DEVICES)
    devices = devices[:MAX_DEVICES]
    column = {d[1]: i for i, d in enumerate(devices)}
    row = {n["id"]: i for i, n in enumerate(mine)}
    links = []
    for port in ports["ports"]:
        if port.get("device_id") in column and port.get("network_id") in row:
            ips = ", ".join(f.get("ip_address", "") for f in port.get("fixed_ips", []))
            links.append((column[port["device_id"]], row[port["network_id"]], ips))
    for router in routers["routers"]:  # the gateway port belongs to no project
        gateway = router.get("external_gateway_info") or {}
        if router["id"] in column and gateway.get("network_id") in row:
            ips = ", ".join(f.get("ip_address", "") for f in gateway.get("external_fixed_ips", []))
            links.append((column[router["id"]], row[gateway["network_id"]], ips))
    width = LEFT + max(1, len(devices)) * COL + 20
    height = TOP + max(1, len(mine)) * ROW + 20
    return {
        "networks": [(i, n) for i, n in enumerate(mine)],
        "devices": list(enumerate(devices)),
        "links": links,
        "more": more,
        "width": width,
        "height": height,
        "col": COL,
        "row": ROW,
        "left": LEFT,
        "top": TOP,
    }


async def _page(p: web.Page) -> Response:
    return p.render("topology.html", **await model(p))


async def _svg(p: web.Page) -> Response:
    body = web.TEMPLATES.get_template("_topology.svg").render(base=p.base, **await model(p))
    return web.counted(p.request, Response(body, media_type="image/svg+xml"))


routes = [
    Route("/project/topology", web.page(_page)),
    Route("/project/topology.svg", web.page(_svg)),
]
