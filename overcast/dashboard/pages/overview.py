"""The project overview, from one batch: quota usage as gauges (compute, volume and network
limits) and the project's recent activity (its instances, volumes and images, newest change
first, with their state now)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from overcast.dashboard import web
from overcast.dashboard.cloud import Get


def gauge(label: str, used: Any, limit: Any) -> dict[str, Any]:
    used_n = int(used or 0)
    limit_n = int(limit) if limit is not None else -1
    return {"label": label, "used": used_n, "limit": limit_n, "max": max(limit_n, used_n, 1)}


RECENT = 10


def _compute(body: dict[str, Any]) -> list[dict[str, Any]]:
    absolute = body["limits"]["absolute"]
    return [
        gauge("Instances", absolute.get("totalInstancesUsed"), absolute.get("maxTotalInstances")),
        gauge("VCPUs", absolute.get("totalCoresUsed"), absolute.get("maxTotalCores")),
        gauge("RAM (MiB)", absolute.get("totalRAMUsed"), absolute.get("maxTotalRAMSize")),
        gauge(
            "Server groups",
            absolute.get("totalServerGroupsUsed"),
            absolute.get("maxServerGroups"),
        ),
    ]


def _volume(body: dict[str, Any]) -> list[dict[str, Any]]:
    absolute = body["limits"]["absolute"]
    return [
        gauge("Volumes", absolute.get("totalVolumesUsed"), absolute.get("maxTotalVolumes")),
        gauge(
            "Volume storage (GiB)",
            absolute.get("totalGigabytesUsed"),
            absolute.get("maxTotalVolumeGigabytes"),
        ),
        gauge("Snapshots", absolute.get("totalSnapshotsUsed"), absolute.get("maxTotalSnapshots")),
    ]


def _network(body: dict[str, Any]) -> list[dict[str, Any]]:
    quota = body["quota"]
    names = [
        ("Networks", "network"),
        ("Ports", "port"),
        ("Routers", "router"),
        ("Floating IPs", "floatingip"),
        ("Security groups", "security_group"),
    ]
    return [
        gauge(label, quota[key].get("used"), quota[key].get("limit"))
        for label, key in names
        if key in quota
    ]


def _row(kind: str, path: str, item: dict[str, Any], state: str, when: str) -> dict[str, Any]:
    name = item.get("name") or item["id"]
    return {"kind": kind, "name": name, "state": state, "when": when, "path": path + item["id"]}


def recent(
    servers: dict[str, Any] | None, volumes: dict[str, Any] | None, images: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The project's resources that changed last, newest first: what, its name, its state
    now (with a task under way) and when it changed."""
    rows = [
        _row(
            "Instance",
            "/project/instances/",
            s,
            " ".join(filter(None, (s.get("status"), s.get("OS-EXT-STS:task_state")))).lower(),
            s.get("updated") or s.get("created") or "",
        )
        for s in (servers or {}).get("servers", [])
    ]
    for kind, path, body, key in (
        ("Volume", "/project/volumes/", volumes, "volumes"),
        ("Image", "/project/images/", images, "images"),
    ):
        rows += [
            _row(
                kind, path, i, i.get("status", ""), i.get("updated_at") or i.get("created_at") or ""
            )
            for i in (body or {}).get(key, [])
        ]
    rows.sort(key=lambda r: _instant(r["when"]), reverse=True)
    return rows[:RECENT]


def _instant(when: str) -> float:
    """A change's time as seconds (the APIs write ISO times with and without a zone)."""
    try:
        stamp = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)).timestamp()


async def _overview(p: web.Page) -> Response:
    own = p.session.project_id
    newest = {"limit": RECENT, "sort_key": "updated_at", "sort_dir": "desc"}
    compute, volume, network, servers, volumes, images = await p.cloud.batch(
        Get("compute", "/limits"),
        Get("block-storage", "/limits", optional=True),
        Get("network", f"/v2.0/quotas/{own}/details", optional=True),
        Get("compute", "/servers/detail", newest),
        Get("block-storage", "/volumes/detail", {"limit": RECENT, "sort": "updated_at:desc"}, True),
        Get("image", "/v2/images", {**newest, "owner": own}, optional=True),
    )
    sections = [
        (title, draw(body))
        for title, draw, body in (
            ("Compute", _compute, compute),
            ("Volumes", _volume, volume),
            ("Network", _network, network),
        )
        if body is not None
    ]
    return p.render("overview.html", sections=sections, recent=recent(servers, volumes, images))


routes = [Route("/project/", web.page(_overview))]
