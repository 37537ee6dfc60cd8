"""Routes of the resources that are not plain collections: quotas (with details and
defaults), network IP availability, availability zones and the auto-allocated topology."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from overcast.network import (
    attributes,
    auto_allocate,
    availability,
    faults,
    listing,
    operations,
    quotas,
)
from overcast.network.api import current, json_body, state
from overcast.network.kinds import Op

router = APIRouter(prefix="/v2.0")


def _project(op: Op, project_id: str, rule: str) -> None:
    op.enforce(rule, {"project_id": project_id, "tenant_id": project_id})


@router.get("/quotas")
@router.get("/quotas.json")
async def list_quotas(request: Request) -> dict[str, Any]:
    async def work(op: Op) -> dict[str, Any]:
        if not op.admin:
            raise faults.forbidden("get_quota")
        found = await quotas.overridden(op.session, op.st.settings.network.default_quotas)
        return {
            "quotas": [{**limits, "project_id": p, "tenant_id": p} for p, limits in found.items()]
        }

    return await operations.read(state(request), current(request), work)


@router.get("/quotas/{project_id}/default")
@router.get("/quotas/{project_id}/default.json")
async def quota_defaults(project_id: str, request: Request) -> dict[str, Any]:
    async def work(op: Op) -> dict[str, Any]:
        _project(op, project_id, "get_quota")
        return {"quota": quotas.defaults(op.st.settings.network.default_quotas)}

    return await operations.read(state(request), current(request), work)


@router.get("/quotas/{project_id}/details")
@router.get("/quotas/{project_id}/details.json")
async def quota_details(project_id: str, request: Request) -> dict[str, Any]:
    async def work(op: Op) -> dict[str, Any]:
        _project(op, project_id, "get_quota")
        limits = await quotas.limits(op.session, op.st.settings.network.default_quotas, project_id)
        used = await quotas.usage(op.session, project_id)
        return {
            "quota": {
                k: {"limit": v, "used": used.get(k, 0), "reserved": 0} for k, v in limits.items()
            }
        }

    return await operations.read(state(request), current(request), work)


@router.get("/quotas/{project_id}")
async def show_quota(project_id: str, request: Request) -> dict[str, Any]:
    project_id = project_id.removesuffix(".json")

    async def work(op: Op) -> dict[str, Any]:
        _project(op, project_id, "get_quota")
        return {
            "quota": await quotas.limits(
                op.session, op.st.settings.network.default_quotas, project_id
            )
        }

    return await operations.read(state(request), current(request), work)


@router.put("/quotas/{project_id}")
async def update_quota(project_id: str, request: Request) -> dict[str, Any]:
    project_id = project_id.removesuffix(".json")
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("quota"), dict):
        raise faults.bad("Resource body required: 'quota' is missing.", "HTTPBadRequest")
    values, check = _quota_values(body["quota"], state(request).settings.network.default_quotas)

    async def work(op: Op) -> dict[str, Any]:
        _project(op, project_id, "update_quota")
        if check:
            await quotas.check_limits(op.session, project_id, values)
        await quotas.set_limits(op.session, project_id, values)
        await op.session.flush()
        return {
            "quota": await quotas.limits(
                op.session, op.st.settings.network.default_quotas, project_id
            )
        }

    return await operations.run(state(request), current(request), work)


def _quota_values(given: dict[str, Any], configured: dict[str, int]) -> tuple[dict[str, int], bool]:
    """The new limits of a `PUT /quotas/<project>` body, and whether to check them against
    what the project uses (`check_limit`)."""
    known = quotas.defaults(configured)
    check = attributes.boolean(given.get("check_limit", False))
    values = {}
    for key, value in given.items():
        if key == "check_limit":
            continue
        if key not in known:
            raise faults.bad(f"Unrecognized attribute(s) '{key}'", "HTTPBadRequest")
        if isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        values[key] = attributes.integer(-1)(value)
    return values, check


@router.delete("/quotas/{project_id}", status_code=204)
async def reset_quota(project_id: str, request: Request) -> Response:
    project_id = project_id.removesuffix(".json")

    async def work(op: Op) -> None:
        _project(op, project_id, "delete_quota")
        await quotas.reset(op.session, project_id)

    await operations.run(state(request), current(request), work)
    return Response(status_code=204)


@router.get("/network-ip-availabilities")
async def ip_availabilities(request: Request) -> dict[str, Any]:
    q = listing.parse_query(list(request.query_params.multi_items()))

    async def work(op: Op) -> dict[str, Any]:
        _project(op, op.ctx.project_id or "", "get_network_ip_availability")
        return {
            "network_ip_availabilities": [
                _cut(v, q.fields) for v in await availability.ip_availability(op, q)
            ]
        }

    return await operations.read(state(request), current(request), work)


@router.get("/network-ip-availabilities/{network_id}")
async def ip_availability(network_id: str, request: Request) -> dict[str, Any]:
    q = listing.parse_query(list(request.query_params.multi_items()))
    q.filters.clear()

    async def work(op: Op) -> dict[str, Any]:
        _project(op, op.ctx.project_id or "", "get_network_ip_availability")
        return {
            "network_ip_availability": _cut(
                (await availability.ip_availability(op, q, network_id))[0], q.fields
            )
        }

    return await operations.read(state(request), current(request), work)


def _cut(view: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if not fields or k in fields}


@router.get("/availability_zones")
async def zones(request: Request) -> dict[str, Any]:
    q = listing.parse_query(list(request.query_params.multi_items()))

    async def work(op: Op) -> dict[str, Any]:
        _project(op, op.ctx.project_id or "", "get_availability_zone")
        return {"availability_zones": [_cut(z, q.fields) for z in await availability.zones(op, q)]}

    return await operations.read(state(request), current(request), work)


@router.get("/auto-allocated-topology/{project_id}")
async def auto_allocated(project_id: str, request: Request) -> dict[str, Any]:
    fields = listing.parse_query(list(request.query_params.multi_items())).fields
    dry_run = "dry-run" in fields

    async def work(op: Op) -> dict[str, Any]:
        _project(op, project_id, "get_auto_allocated_topology")
        return await auto_allocate.get(op, project_id, dry_run)

    return await operations.run(state(request), current(request), work)


@router.delete("/auto-allocated-topology/{project_id}", status_code=204)
async def auto_allocated_delete(project_id: str, request: Request) -> Response:
    async def work(op: Op) -> None:
        _project(op, project_id, "delete_auto_allocated_topology")
        await auto_allocate.delete(op, project_id)

    await operations.run(state(request), current(request), work)
    return Response(status_code=204)
