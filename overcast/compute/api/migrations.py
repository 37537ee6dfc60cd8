"""os-migrations (every migration, admins) and a server's live migrations in progress
(`/servers/{id}/migrations`, from 2.23), in Nova's views: `migration_type` and links from 2.23,
`uuid` and paging from 2.59, `user_id`/`project_id` from 2.80."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from overcast.common import errors
from overcast.common.http import pagination
from overcast.compute import migration_list, servers
from overcast.compute.api import inputs
from overcast.compute.api.deps import Req, req
from overcast.compute.models.instances import Migration

router = APIRouter(prefix="/v2.1")
RULE = "os_compute_api:os-migrations:index"
SERVER_RULE = "os_compute_api:servers:migrations:"
_FILTERS_2_59 = ("limit", "marker", "changes-since")


def _view(r: Req, row: Migration, flavors: dict[str, int], *, server: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "status": row.status,
        "instance_uuid": row.instance_uuid,
        "source_compute": row.source_compute,
        "source_node": row.source_node,
        "dest_compute": row.dest_compute,
        "dest_node": row.dest_node,
        "dest_host": None,
        "created_at": inputs.isotime(row.created_at),
        "updated_at": inputs.isotime(row.updated_at),
    }
    if server:
        out["server_uuid"] = out.pop("instance_uuid")
        for key in ("memory_total_bytes", "memory_processed_bytes", "memory_remaining_bytes"):
            out[key] = None
        for key in ("disk_total_bytes", "disk_processed_bytes", "disk_remaining_bytes"):
            out[key] = None
    else:
        out["old_instance_type_id"] = flavors.get(row.old_flavor_id or "")
        out["new_instance_type_id"] = flavors.get(row.new_flavor_id or "")
        if r.at_least("2.23"):
            out["migration_type"] = row.migration_type
    if r.at_least("2.59"):
        out["uuid"] = row.uuid
    if r.at_least("2.80"):
        out["user_id"] = row.user_id
        out["project_id"] = row.project_id
    return out


@router.get("/os-migrations")
async def index(request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE, {})
    params = dict(request.query_params)
    if not r.at_least("2.59"):
        for key in _FILTERS_2_59:
            params.pop(key, None)
    if not r.at_least("2.66"):
        params.pop("changes-before", None)
    if not r.at_least("2.80"):
        params.pop("user_id", None)
        params.pop("project_id", None)
    limit = pagination.parse_limit(params.get("limit"), 1000)
    async with r.state.db.reader() as session:
        rows = await migration_list.page(session, params, limit=limit, marker=params.get("marker"))
        flavors = await migration_list.flavor_ids(session, rows)
    body: dict[str, Any] = {"migrations": [_view(r, m, flavors, server=False) for m in rows]}
    if r.at_least("2.59") and limit and len(rows) == limit:
        query = urlencode({**params, "marker": rows[-1].uuid})
        body["migrations_links"] = [{"rel": "next", "href": r.url(f"/os-migrations?{query}")}]
    return body


async def _server_rows(r: Req, server_id: str, rule: str, migration_id: str | None = None) -> Any:
    if not r.at_least("2.23"):
        raise errors.NotFound("The resource could not be found.")
    async with r.state.db.reader() as session:
        inst = await servers.get(session, r.ctx, server_id)
        r.enforce(SERVER_RULE + rule, {"project_id": inst.project_id})
        return await migration_list.of_server(session, server_id, migration_id)


@router.get("/servers/{server_id}/migrations")
async def server_index(server_id: str, r: Req = Depends(req)) -> dict[str, Any]:
    rows = await _server_rows(r, server_id, "index")
    return {"migrations": [_view(r, m, {}, server=True) for m in rows]}


@router.get("/servers/{server_id}/migrations/{migration_id}")
async def server_show(server_id: str, migration_id: str, r: Req = Depends(req)) -> dict[str, Any]:
    rows = await _server_rows(r, server_id, "show", migration_id)
    if not rows:
        raise errors.NotFound(f"Migration {migration_id} for server {server_id} was not found.")
    return {"migration": _view(r, rows[0], {}, server=True)}


@router.delete("/servers/{server_id}/migrations/{migration_id}", status_code=202)
async def server_abort(server_id: str, migration_id: str, r: Req = Depends(req)) -> Response:
    if not r.at_least("2.24"):
        raise errors.NotFound("The resource could not be found.")
    rows = await _server_rows(r, server_id, "delete", migration_id)
    if not rows:
        raise errors.NotFound(f"Migration {migration_id} for server {server_id} was not found.")
    # Overcast's live migrations switch over in one step: none is ever left to abort.
    raise errors.BadRequest(f"Migration {migration_id} is not in a state that can be aborted.")
