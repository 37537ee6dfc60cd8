"""One listing of a project's resources as Cinder pages them (`all_tenants` for admins,
filters, `sort`, `limit`/`marker`/`offset`, a next link), shared by the routes of groups and
group snapshots."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Request
from sqlalchemy import select

from overcast.common.http import pagination
from overcast.volume import listing
from overcast.volume.api import schemas
from overcast.volume.api.deps import Req


async def project_list(
    r: Req,
    request: Request,
    model: Any,
    *,
    fields: Mapping[str, str],
    sort_keys: tuple[str, ...],
    path: str,
    key: str,
    render: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:
    """`{key: [render(row)...], key_links: [next]}` of the caller's project's `model` rows."""
    params = dict(request.query_params)
    stmt = select(model).where(model.deleted.is_(False))
    all_tenants = params.pop("all_tenants", None) or params.pop("all_projects", None)
    if not (r.ctx.is_admin and schemas.boolean(all_tenants or "false", "all_tenants")):
        stmt = stmt.where(model.project_id == r.project_id)
    limit = schemas.limit(params.get("limit"), r.state.settings.volume.max_list_limit)
    sort = schemas.sort(params, sort_keys)
    stmt, _ = listing.apply(
        stmt, model, params, fields, time_filters=r.at_least("3.60"), like=r.at_least("3.34")
    )
    async with r.state.db.reader() as session:
        rows = await listing.page(session, stmt, model, params, sort, limit, None)
    body: dict[str, Any] = {key: [render(row) for row in rows]}
    link = pagination.next_link(r.url(path), params, rows, limit)
    if link:
        body[f"{key}_links"] = [{"href": link, "rel": "next"}]
    return body
