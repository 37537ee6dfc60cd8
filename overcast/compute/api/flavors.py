"""/flavors: list, show, create, update (2.55 description) and delete; extra specs; access to
private flavors (os-flavor-access and the add/removeTenantAccess actions)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from overcast.common import errors
from overcast.common.http import pagination
from overcast.compute import flavors
from overcast.compute.api import views
from overcast.compute.api.deps import Req, action_body, json_body, req
from overcast.compute.api.servers import _json
from overcast.compute.models.flavors import Flavor

router = APIRouter(prefix="/v2.1")

_SORT = {
    "flavorid",
    "name",
    "memory_mb",
    "vcpus",
    "root_gb",
    "ephemeral_gb",
    "swap",
    "id",
    "rxtx_factor",
    "created_at",
    "description",
    "is_public",
    "disabled",
}


def _int(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise errors.BadRequest(f"Invalid {name} filter [{value}]") from exc


async def _list(r: Req, request: Request, detail: bool) -> Response:
    q = request.query_params
    stmt = flavors.list_query(
        r.ctx,
        q.get("is_public"),
        _int(q.get("minDisk"), "minDisk"),
        _int(q.get("minRam"), "minRam"),
    )
    key = q.get("sort_key", "flavorid")
    if key not in _SORT:
        raise errors.BadRequest(f"Invalid sort_key: {key}")
    key = "flavorid" if key == "id" else key
    limit = pagination.parse_limit(q.get("limit"), 1000)
    async with r.state.db.reader() as session:
        rows = await pagination.page(
            session,
            stmt,
            Flavor,
            limit=limit,
            marker=q.get("marker"),
            sort=[(key, q.get("sort_dir", "asc"))],
            id_column="flavorid",
        )
    body: dict[str, Any] = {"flavors": [views.flavor(r, f, detail=detail) for f in rows]}
    nxt = pagination.next_link(
        r.url("/flavors/detail" if detail else "/flavors"), dict(q), rows, limit, id_attr="flavorid"
    )
    if nxt:
        body["flavors_links"] = [{"rel": "next", "href": nxt}]
    return _json(body)


@router.get("/flavors")
async def index(request: Request, r: Req = Depends(req)) -> Response:
    return await _list(r, request, False)


@router.get("/flavors/detail")
async def detail(request: Request, r: Req = Depends(req)) -> Response:
    return await _list(r, request, True)


@router.get("/flavors/{flavor_id}")
async def show(flavor_id: str, r: Req = Depends(req)) -> Response:
    async with r.state.db.reader() as session:
        flavor = await flavors.get(session, r.ctx, flavor_id)
    return _json({"flavor": views.flavor(r, flavor)})


def _number(
    body: dict[str, Any], key: str, default: Any = None, minimum: int = 0, kind: type = int
) -> Any:
    value = body.get(key, default)
    if value is None:
        raise errors.BadRequest(
            f"Invalid input for field/attribute flavor. '{key}' is a required property"
        )
    if value == "" and default is not None:
        return default
    if kind is int and isinstance(value, float):
        raise errors.BadRequest(f"Invalid input for field/attribute {key}. Value: {value}.")
    try:
        number = kind(value)
    except (TypeError, ValueError) as exc:
        raise errors.BadRequest(
            f"Invalid input for field/attribute {key}. Value: {value}."
        ) from exc
    if isinstance(value, bool) or number < minimum or (kind is int and number > 2**31 - 1):
        raise errors.BadRequest(f"Invalid input for field/attribute {key}. Value: {value}.")
    return number


@router.post("/flavors")
async def create(request: Request, r: Req = Depends(req)) -> Response:
    r.enforce("os_compute_api:os-flavor-manage:create")
    body = (await json_body(request)).get("flavor")
    if not isinstance(body, dict) or "name" not in body:
        raise errors.BadRequest(
            "Invalid input for field/attribute flavor. 'name' is a required property"
        )
    if "description" in body and not r.at_least("2.55"):
        raise errors.BadRequest(
            "Additional properties are not allowed ('description' was unexpected)"
        )
    values = {
        "name": body["name"],
        "id": body.get("id"),
        "vcpus": _number(body, "vcpus", minimum=1),
        "ram": _number(body, "ram", minimum=1),
        "disk": _number(body, "disk"),
        "ephemeral": _number(body, "OS-FLV-EXT-DATA:ephemeral", 0),
        "swap": _number(body, "swap", 0),
        "rxtx_factor": _number(body, "rxtx_factor", 1.0, kind=float),
        "is_public": body.get("os-flavor-access:is_public", True) not in (False, "false", "False"),
        "description": body.get("description"),
    }
    async with r.state.boot_cache.announcing(), r.state.db.session() as session:
        flavor = await flavors.create(session, values)
    return _json({"flavor": views.flavor(r, flavor)})


@router.put("/flavors/{flavor_id}")
async def update(flavor_id: str, request: Request, r: Req = Depends(req)) -> Response:
    if not r.at_least("2.55"):
        raise errors.MethodNotAllowed("Updating a flavor needs microversion 2.55 or later.")
    r.enforce("os_compute_api:os-flavor-manage:update")
    body = (await json_body(request)).get("flavor")
    if not isinstance(body, dict) or set(body) != {"description"}:
        raise errors.BadRequest("Invalid input for field/attribute flavor: only 'description'.")
    async with r.state.boot_cache.announcing(), r.state.db.session() as session:
        flavor = await flavors.get(session, r.ctx, flavor_id)
        flavor.description = body["description"]
    return _json({"flavor": views.flavor(r, flavor)})


@router.delete("/flavors/{flavor_id}", status_code=202)
async def delete(flavor_id: str, r: Req = Depends(req)) -> Response:
    r.enforce("os_compute_api:os-flavor-manage:delete")
    async with r.state.boot_cache.announcing(), r.state.db.session() as session:
        await session.delete(await flavors.get(session, r.ctx, flavor_id))
    return Response(status_code=202)


# -- extra specs ---------------------------------------------------------------------------


@router.get("/flavors/{flavor_id}/os-extra_specs")
async def specs(flavor_id: str, r: Req = Depends(req)) -> Response:
    r.enforce("os_compute_api:os-flavor-extra-specs:index")
    async with r.state.db.reader() as session:
        flavor = await flavors.get(session, r.ctx, flavor_id)
    return _json({"extra_specs": flavor.extra_specs})


@router.post("/flavors/{flavor_id}/os-extra_specs")
async def add_specs(flavor_id: str, request: Request, r: Req = Depends(req)) -> Response:
    r.enforce("os_compute_api:os-flavor-extra-specs:create")
    specs = (await json_body(request)).get("extra_specs")
    if not isinstance(specs, dict):
        raise errors.BadRequest("Invalid input for field/attribute extra_specs.")
    async with r.state.boot_cache.announcing(), r.state.db.session() as session:
        flavor = await flavors.get(session, r.ctx, flavor_id)
        flavors.set_specs(flavor, specs, validate=r.at_least("2.86"))
    return _json({"extra_specs": specs})


@router.get("/flavors/{flavor_id}/os-extra_specs/{key}")
async def show_spec(flavor_id: str, key: str, r: Req = Depends(req)) -> Response:
    r.enforce("os_compute_api:os-flavor-extra-specs:show")
    async with r.state.db.reader() as session:
        flavor = await flavors.get(session, r.ctx, flavor_id)
    if key not in flavor.extra_specs:
        raise errors.NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
    return _json({key: flavor.extra_specs[key]})


@router.put("/flavors/{flavor_id}/os-extra_specs/{key}")
async def update_spec(
    flavor_id: str, key: str, request: Request, r: Req = Depends(req)
) -> Response:
    r.enforce("os_compute_api:os-flavor-extra-specs:update")
    body = await json_body(request)
    if set(body) != {key}:
        raise errors.BadRequest("Request body and URI mismatch")
    async with r.state.boot_cache.announcing(), r.state.db.session() as session:
        flavor = await flavors.get(session, r.ctx, flavor_id)
        flavors.set_specs(flavor, body, validate=r.at_least("2.86"))
    return _json(body)


@router.delete("/flavors/{flavor_id}/os-extra_specs/{key}")
async def delete_spec(flavor_id: str, key: str, r: Req = Depends(req)) -> Response:
    r.enforce("os_compute_api:os-flavor-extra-specs:delete")
    async with r.state.boot_cache.announcing(), r.state.db.session() as session:
        flavors.delete_spec(await flavors.get(session, r.ctx, flavor_id), key)
    return Response(status_code=200)


# -- access ----------------------------------------------------------------------------------


def _access(flavor: Flavor) -> dict[str, Any]:
    return {
        "flavor_access": [
            {"flavor_id": flavor.flavorid, "tenant_id": p.project_id} for p in flavor.projects
        ]
    }


@router.get("/flavors/{flavor_id}/os-flavor-access")
async def access(flavor_id: str, r: Req = Depends(req)) -> Response:
    r.enforce("os_compute_api:os-flavor-access")
    async with r.state.db.reader() as session:
        flavor = await flavors.get(session, r.ctx, flavor_id)
    if flavor.is_public:
        raise errors.NotFound("Access list not available for public flavors.")
    return _json(_access(flavor))


@router.post("/flavors/{flavor_id}/action")
async def action(flavor_id: str, request: Request, r: Req = Depends(req)) -> Response:
    name, args = await action_body(request)
    if (
        name not in ("addTenantAccess", "removeTenantAccess")
        or not isinstance(args, dict)
        or (not args.get("tenant"))
    ):
        raise errors.BadRequest("Invalid flavor action or missing tenant.")
    rule = "add_tenant_access" if name == "addTenantAccess" else "remove_tenant_access"
    r.enforce(f"os_compute_api:os-flavor-access:{rule}")
    async with r.state.boot_cache.announcing(), r.state.db.session() as session:
        flavor = (
            await session.execute(select(Flavor).where(Flavor.flavorid == flavor_id))
        ).scalar_one_or_none()
        if flavor is None:
            raise errors.NotFound(f"Flavor {flavor_id} could not be found.")
        if name == "addTenantAccess":
            flavors.add_access(flavor, str(args["tenant"]))
        else:
            flavors.remove_access(flavor, str(args["tenant"]))
        await session.flush()
        out = _access(flavor)
    return _json(out)
