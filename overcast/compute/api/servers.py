"""/servers: create, list (and detail), show, update and delete servers."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from overcast.common import errors
from overcast.common.http import pagination
from overcast.compute import boot, servers
from overcast.compute.api import schemas
from overcast.compute.api.deps import Req, json_body, req
from overcast.compute.api.views import ServerView
from overcast.compute.models.server_groups import ServerGroupMember

router = APIRouter(prefix="/v2.1")

_LIST_PARAMS = {
    "all_tenants",
    "project_id",
    "tenant_id",
    "deleted",
    "status",
    "name",
    "image",
    "flavor",
    "changes-since",
    "changes-before",
    "ip",
    "ip6",
    "reservation_id",
    "uuid",
    "tags",
    "tags-any",
    "not-tags",
    "not-tags-any",
    "locked",
    "host",
    "node",
    "availability_zone",
    "key_name",
    "user_id",
    "hostname",
    "vm_state",
    "task_state",
    "power_state",
    "progress",
    "description",
    "config_drive",
    "created_at",
    "launched_at",
    "terminated_at",
    "limit",
    "marker",
    "sort_key",
    "sort_dir",
    "all_projects",
    "soft_deleted",
    "access_ip_v4",
    "access_ip_v6",
    "locked_by",
    "launch_index",
    "kernel_id",
    "ramdisk_id",
    "root_device_name",
    "terminate_at",
    "display_name",
    "display_description",
    "block_device_mapping",
    "os-extended-volumes",
    "locked_reason",
    "pinned_availability_zone",
}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":"), check_circular=False),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _params(r: Req, request: Request) -> tuple[dict[str, str], list[tuple[str, str]]]:
    params: dict[str, str] = {}
    sort_keys = request.query_params.getlist("sort_key")
    sort_dirs = request.query_params.getlist("sort_dir")
    for key, value in request.query_params.multi_items():
        if r.at_least("2.75") and key not in _LIST_PARAMS:
            raise errors.BadRequest(
                f"Invalid input for query parameters {key}. Additional properties are not "
                f"allowed ('{key}' was unexpected)"
            )
        params[key] = value
    for direction in sort_dirs:
        if direction.lower() not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid sort_dir: {direction}")
    sort = []
    for i, key in enumerate(sort_keys):
        if key not in servers.SORT_KEYS:
            raise errors.BadRequest(f"Invalid sort_key: {key}")
        direction = sort_dirs[i] if i < len(sort_dirs) else (sort_dirs[0] if sort_dirs else "desc")
        sort.append((key, direction))
    return params, sort or [("created_at", "desc")]


async def _list(r: Req, request: Request, detail: bool) -> Response:
    rule = "detail" if detail else "index"
    r.enforce(f"os_compute_api:servers:{rule}")
    params, sort = _params(r, request)
    all_tenants = "all_tenants" in params and servers.parse_bool(
        params["all_tenants"], "all_tenants"
    )
    if all_tenants:
        r.enforce(f"os_compute_api:servers:{rule}:get_all_tenants")
    admin_filters = r.ctx.is_admin or r.at_least("2.83")
    stmt = servers.filtered(
        r.ctx,
        params,
        all_tenants=all_tenants,
        admin_filters=admin_filters,
        strict_status=r.at_least("2.38"),
    )
    maximum = r.state.settings.compute.max_list_limit
    limit = pagination.parse_limit(params.get("limit"), maximum)
    if limit is None:
        limit = maximum
    async with r.state.db.reader() as session:
        from overcast.compute.models.instances import Instance

        rows = await pagination.page(
            session,
            stmt,
            Instance,
            limit=limit,
            marker=params.get("marker"),
            sort=sort,
            id_column="uuid",
        )
        status = None
        if detail and r.at_least("2.16") and r.allowed("os_compute_api:servers:show:host_status"):
            status = await servers.host_status(
                session, r.state.settings.compute.service_down_time, (i.host for i in rows)
            )
    view = ServerView(r, status)
    items = [view.detail(i) if detail else view.basic(i) for i in rows]
    body: dict[str, Any] = {"servers": items}
    query = {k: v for k, v in params.items() if k not in ("marker",)}
    nxt = pagination.next_link(
        r.url("/servers/detail" if detail else "/servers"), query, rows, limit, id_attr="uuid"
    )
    if nxt:
        body["servers_links"] = [{"rel": "next", "href": nxt}]
    return _json(body)


@router.get("/servers")
async def index(request: Request, r: Req = Depends(req)) -> Response:
    return await _list(r, request, detail=False)


@router.get("/servers/detail")
async def detail(request: Request, r: Req = Depends(req)) -> Response:
    return await _list(r, request, detail=True)


async def _shown(r: Req, uuid: str, rule: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The server and its full view; with `rule`, the policy the caller must pass for it."""
    async with r.state.db.reader() as session:
        inst = await servers.get(session, r.ctx, uuid)
        if rule is not None:
            r.enforce(rule, {"project_id": inst.project_id})
        status = None
        if r.at_least("2.16") and r.allowed("os_compute_api:servers:show:host_status"):
            status = await servers.host_status(
                session, r.state.settings.compute.service_down_time, [inst.host]
            )
        groups = await _groups(session, uuid) if r.at_least("2.71") else None
    return inst, ServerView(r, status, groups).detail(inst, show=True)


async def show_body(r: Req, uuid: str) -> dict[str, Any]:
    """The full view of one server, as show answers."""
    return (await _shown(r, uuid))[1]


# What Nova's update and rebuild answers leave out below 2.75 (their "basic" view).
_EXTENDED_PREFIXES = ("OS-EXT-", "OS-SRV-USG:", "os-extended-volumes:")
_EXTENDED_KEYS = {
    "config_drive",
    "key_name",
    "security_groups",
    "host_status",
    "server_groups",
    "pinned_availability_zone",
}


async def changed_body(r: Req, uuid: str, *, rebuild: bool = False) -> dict[str, Any]:
    """The view update and rebuild answer: the basic view below 2.75 (with `key_name` from
    2.54 for rebuild), the full one from 2.75; rebuild adds `user_data` from 2.57."""
    inst, body = await _shown(r, uuid)
    if not r.at_least("2.75"):
        keep = {"key_name"} if rebuild and r.at_least("2.54") else set()
        body = {
            k: v
            for k, v in body.items()
            if k in keep or not (k.startswith(_EXTENDED_PREFIXES) or k in _EXTENDED_KEYS)
        }
        # The basic view's addresses carry only the address and its version.
        body["addresses"] = {
            net: [{"addr": a["addr"], "version": a["version"]} for a in addrs]
            for net, addrs in body.get("addresses", {}).items()
        }
    if rebuild and r.at_least("2.57"):
        body.pop("OS-EXT-SRV-ATTR:user_data", None)
        body["user_data"] = inst.user_data
    return body


async def _groups(session: Any, uuid: str) -> dict[str, list[str]]:
    rows = await session.execute(
        select(ServerGroupMember.group_uuid).where(ServerGroupMember.instance_uuid == uuid)
    )
    return {uuid: [g for (g,) in rows.all()]}


@router.get("/servers/{server_id}")
async def show(server_id: str, r: Req = Depends(req)) -> Response:
    _inst, body = await _shown(r, server_id, "os_compute_api:servers:show")
    return _json({"server": body})


@router.get("/servers/{server_id}/topology")
async def topology(server_id: str, r: Req = Depends(req)) -> Response:
    """2.78: the guest's NUMA topology. Fake and QEMU guests have none pinned."""
    if not r.at_least("2.78"):
        raise errors.NotFound("The resource could not be found.")
    async with r.state.db.reader() as session:
        inst = await servers.get(session, r.ctx, server_id)
    r.enforce("os_compute_api:servers:show:topology", {"project_id": inst.project_id})
    return _json({"nodes": [], "pagesize_kb": None})


@router.post("/servers", status_code=202)
async def create(request: Request, r: Req = Depends(req)) -> Response:
    r.enforce("os_compute_api:servers:create")
    body = await json_body(request)
    command = schemas.boot_request(r, body)
    if command.host or command.hypervisor_hostname:
        r.enforce("os_compute_api:servers:create:requested_destination")
    if command.availability_zone and ":" in command.availability_zone:
        r.enforce("os_compute_api:servers:create:forced_host")
    created, reservation_id, admin_pass = await boot.create(r.state, r.ctx, command)
    server = body["server"]
    if server.get("return_reservation_id"):
        return _json({"reservation_id": reservation_id}, 202)
    first = created[0]
    out = {
        "id": first.uuid,
        "links": ServerView(r).basic(first)["links"],
        "OS-DCF:diskConfig": command.disk_config,
        "security_groups": [{"name": g} for g in first.security_groups],
        "adminPass": admin_pass,
    }
    return _json({"server": out}, 202, {"Location": r.url(f"/servers/{first.uuid}")})


@router.put("/servers/{server_id}")
async def update(server_id: str, request: Request, r: Req = Depends(req)) -> Response:
    body = (await json_body(request)).get("server")
    if not isinstance(body, dict):
        raise errors.BadRequest("Invalid input for field/attribute server.")
    allowed = {"name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig"}
    if r.at_least("2.19"):
        allowed.add("description")
    if r.at_least("2.90"):
        allowed.add("hostname")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise errors.BadRequest(
            f"Additional properties are not allowed ({unknown[0]!r} was unexpected)"
        )
    async with r.state.db.session() as session:
        inst = await servers.get(session, r.ctx, server_id)
        r.enforce("os_compute_api:servers:update", {"project_id": inst.project_id})
        if "name" in body:
            inst.display_name = schemas.name(body["name"])
        if "description" in body:
            desc = body["description"]
            if desc is not None and (not isinstance(desc, str) or len(desc) > 255):
                raise schemas.bad("description", "must be a string of at most 255 characters")
            inst.display_description = desc
        if "hostname" in body:
            inst.hostname = str(body["hostname"])
        if "accessIPv4" in body:
            inst.access_ip_v4 = schemas.access_ip(body["accessIPv4"], 4)
        if "accessIPv6" in body:
            inst.access_ip_v6 = schemas.access_ip(body["accessIPv6"], 6)
        if "OS-DCF:diskConfig" in body:
            inst.system_metadata = {
                **inst.system_metadata,
                "disk_config": body["OS-DCF:diskConfig"],
            }
    return _json({"server": await changed_body(r, server_id)})


@router.delete("/servers/{server_id}", status_code=204)
async def delete(server_id: str, r: Req = Depends(req)) -> Response:
    async with r.state.db.reader() as session:
        inst = await servers.get(session, r.ctx, server_id)
    r.enforce("os_compute_api:servers:delete", {"project_id": inst.project_id})
    await servers.delete(r.state, r.ctx, server_id)
    return Response(status_code=204)
