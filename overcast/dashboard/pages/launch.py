"""The launch form, in one page: name, source (image, volume, volume snapshot, or a new volume
from an image), flavor (those that do not fit the quota marked), networks, security groups,
key pair (created inline by `keypairs.py`), user data, count. The page's script shows the
quota the launch would use and the equal `openstack server create` command and REST request.
What the page needs is read in one batch; the launch itself is one `POST /servers`."""

from __future__ import annotations

import base64
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from overcast.common import errors
from overcast.dashboard import web
from overcast.dashboard.cloud import Get

SOURCES = (
    ("image", "Image or instance snapshot"),
    ("image_volume", "Image, on a new volume"),
    ("volume", "Volume"),
    ("snapshot", "Volume snapshot"),
)
# Which form field an API refusal is about, by the words of its message.
_FIELD_WORDS = (
    ("flavor", "flavor"),
    ("image", "source_id"),
    ("volume", "source_id"),
    ("snapshot", "source_id"),
    ("network", "networks"),
    ("port", "networks"),
    ("key", "key_name"),
    ("security group", "security_groups"),
    ("user_data", "user_data"),
    ("user data", "user_data"),
    ("quota", "count"),
    ("count", "count"),
    ("name", "name"),
)


async def choices(p: web.Page) -> dict[str, Any]:
    """Everything the form offers, read in one batch; the lists of services that are absent
    or refuse this user are left empty."""
    own = p.session.project_id
    available = {"status": "available"}
    flavors, images, limits, keypairs, networks, groups, volumes, snapshots = await p.cloud.batch(
        Get("compute", "/flavors/detail"),
        Get("image", "/v2/images", {"status": "active", "limit": 1000}),
        Get("compute", "/limits"),
        Get("compute", "/os-keypairs"),
        Get("network", "/v2.0/networks", optional=True),
        Get("network", "/v2.0/security-groups", {"project_id": own}, optional=True),
        Get("block-storage", "/volumes/detail", available, optional=True),
        Get("block-storage", "/snapshots/detail", available, optional=True),
    )
    absolute = limits["limits"]["absolute"]
    left = {
        "instances": _left(absolute, "maxTotalInstances", "totalInstancesUsed"),
        "cores": _left(absolute, "maxTotalCores", "totalCoresUsed"),
        "ram": _left(absolute, "maxTotalRAMSize", "totalRAMUsed"),
    }
    nets = [
        n
        for n in (networks or {}).get("networks", [])
        if n.get("project_id") == own or n.get("shared") or n.get("router:external")
    ]
    return {
        "flavors": sorted(flavors["flavors"], key=lambda f: (f["vcpus"], f["ram"], f["disk"])),
        "images": images["images"],
        "absolute": absolute,
        "left": left,
        "keypairs": [k["keypair"] for k in keypairs["keypairs"]],
        "networks": nets,
        "groups": (groups or {}).get("security_groups", []),
        "volumes": (volumes or {}).get("volumes", []),
        "snapshots": (snapshots or {}).get("snapshots", []),
    }


def _left(absolute: dict[str, Any], limit: str, used: str) -> int:
    most = int(absolute.get(limit, -1))
    return -1 if most < 0 else max(0, most - int(absolute.get(used, 0)))


def fits(flavor: dict[str, Any], left: dict[str, int]) -> bool:
    return all(
        left[key] < 0 or need <= left[key]
        for key, need in (("instances", 1), ("cores", flavor["vcpus"]), ("ram", flavor["ram"]))
    )


def server_body(form: dict[str, Any]) -> dict[str, Any]:
    """The `POST /servers` body equal to the form (what the page's script also shows)."""
    server: dict[str, Any] = {"name": form["name"], "flavorRef": form["flavor"]}
    source, source_id = form["source"], form["source_id"]
    size = form.get("volume_size") or None
    if source == "image":
        server["imageRef"] = source_id
    else:
        mapping: dict[str, Any] = {
            "boot_index": 0,
            "uuid": source_id,
            "source_type": {"image_volume": "image"}.get(source, source),
            "destination_type": "volume",
            "delete_on_termination": source == "image_volume",
        }
        if size:
            mapping["volume_size"] = int(size) if str(size).isdigit() else size
        server["block_device_mapping_v2"] = [mapping]
    nets = form["networks"]
    server["networks"] = [{"uuid": n} for n in nets] if nets else "none"
    if form["security_groups"]:
        server["security_groups"] = [{"name": g} for g in form["security_groups"]]
    if form["key_name"]:
        server["key_name"] = form["key_name"]
    if form["user_data"]:
        server["user_data"] = base64.b64encode(form["user_data"].encode()).decode()
    count = form["count"]
    if count not in ("", "1", 1):
        server["min_count"] = server["max_count"] = int(count) if str(count).isdigit() else count
    return {"server": server}


def _form(p: web.Page) -> dict[str, Any]:
    return {
        "name": p.field("name"),
        "source": p.field("source", "image"),
        "source_id": p.field(f"source_id_{p.field('source', 'image')}"),
        "volume_size": p.field("volume_size"),
        "flavor": p.field("flavor"),
        "networks": p.fields("networks"),
        "security_groups": p.fields("security_groups"),
        "key_name": p.field("key_name"),
        "user_data": p.field("user_data"),
        "count": p.field("count", "1") or "1",
    }


def field_of(message: str) -> str:
    lowered = message.lower()
    return next((field for word, field in _FIELD_WORDS if word in lowered), "form")


async def _show(
    p: web.Page,
    form: dict[str, Any] | None = None,
    status: int = 200,
    problems: dict[str, str] | None = None,
) -> Response:
    found = await choices(p)
    data = {
        "flavors": {
            f["id"]: {"name": f["name"], "vcpus": f["vcpus"], "ram": f["ram"]}
            for f in found["flavors"]
        },
        "left": found["left"],
        "endpoint": p.cloud.url("compute"),
    }
    return p.render(
        "launch.html",
        status,
        form=form or {"source": "image", "count": "1", "networks": [], "security_groups": []},
        sources=SOURCES,
        fits=lambda f: fits(f, found["left"]),
        data=data,
        problems=problems or {},
        **found,
    )


async def _page(p: web.Page) -> Response:
    return await _show(p)


async def _launch(p: web.Page) -> Response:
    form = _form(p)
    problems: dict[str, str] = {}
    if not form["name"]:
        problems["name"] = "A name is required."
    if not form["flavor"]:
        problems["flavor"] = "Choose a flavor."
    if not form["source_id"]:
        problems["source_id"] = "Choose what to boot from."
    if problems:
        return await _show(p, form, 400, problems)
    try:
        body = await p.cloud.post("compute", "/servers", server_body(form))
    except (
        errors.BadRequest,
        errors.Forbidden,
        errors.Conflict,
        errors.NotFound,
        errors.OverQuota,
    ) as exc:
        said = web.message(exc)
        return await _show(p, form, exc.status, {field_of(said): said, "form": said})
    server_id = (body.get("server") or {}).get("id")
    if form["count"] in ("", "1") and server_id:
        return p.redirect(f"/project/instances/{server_id}", f"Launching {form['name']}.")
    return p.redirect("/project/instances", f"Launching {form['count']} × {form['name']}.")


routes = [
    Route("/project/launch", web.page(_page), methods=["GET"]),
    Route("/project/launch", web.page(_launch), methods=["POST"]),
]
