"""Routes for router interfaces (`PUT /v2.0/routers/<id>/add_router_interface` and
`remove_router_interface`) and the port forwardings of a floating IP
(`/v2.0/floatingips/<id>/port_forwardings[/<pf_id>]`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from overcast.network import faults, floating_ips, operations, routers
from overcast.network.api import current, json_body, state
from overcast.network.kinds import Op
from overcast.network.registry import KINDS

router = APIRouter(prefix="/v2.0")


async def _router(op: Op, router_id: str, rule: str) -> Any:
    kind = KINDS["routers"]
    row = await kind.load(op, router_id, lock=True)
    op.enforce(rule, {"project_id": row.project_id, "tenant_id": row.project_id})
    return row


# Two routes, not `/routers/{id}/{action}`: that would also catch `PUT /routers/{id}/tags`.
@router.put("/routers/{router_id}/add_router_interface")
async def add_interface(router_id: str, request: Request) -> dict[str, Any]:
    return await _interface(router_id, "add_router_interface", request)


@router.put("/routers/{router_id}/remove_router_interface")
async def remove_interface(router_id: str, request: Request) -> dict[str, Any]:
    return await _interface(router_id, "remove_router_interface", request)


async def _interface(router_id: str, action: str, request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise faults.bad("Bad router request: the body must be an object.", "BadRequest")

    async def work(op: Op) -> dict[str, Any]:
        row = await _router(op, router_id, action)
        if action == "add_router_interface":
            return await routers.add_interface(op, row, body)
        return await routers.remove_interface(op, row, body)

    return await operations.run(state(request), current(request), work)


async def _fip(op: Op, fip_id: str, rule: str) -> Any:
    row = await KINDS["floatingips"].load(op, fip_id, lock=rule != "get_port_forwarding")
    op.enforce(rule, {"project_id": row.project_id, "tenant_id": row.project_id})
    return row


@router.get("/floatingips/{fip_id}/port_forwardings")
async def list_forwardings(fip_id: str, request: Request) -> dict[str, Any]:
    async def work(op: Op) -> dict[str, Any]:
        fip = await _fip(op, fip_id, "get_port_forwarding")
        return {"port_forwardings": await floating_ips.forwardings(op, fip)}

    return await operations.read(state(request), current(request), work)


@router.post("/floatingips/{fip_id}/port_forwardings", status_code=201)
async def add_forwarding(fip_id: str, request: Request) -> JSONResponse:
    body = await json_body(request)

    async def work(op: Op) -> dict[str, Any]:
        fip = await _fip(op, fip_id, "create_port_forwarding")
        return {"port_forwarding": await floating_ips.add_forwarding(op, fip, body)}

    return JSONResponse(
        await operations.run(state(request), current(request), work), status_code=201
    )


@router.get("/floatingips/{fip_id}/port_forwardings/{pf_id}")
async def show_forwarding(fip_id: str, pf_id: str, request: Request) -> dict[str, Any]:
    async def work(op: Op) -> dict[str, Any]:
        fip = await _fip(op, fip_id, "get_port_forwarding")
        return {
            "port_forwarding": floating_ips.forward_view(
                await floating_ips.forwarding(op, fip, pf_id)
            )
        }

    return await operations.read(state(request), current(request), work)


@router.put("/floatingips/{fip_id}/port_forwardings/{pf_id}")
async def update_forwarding(fip_id: str, pf_id: str, request: Request) -> dict[str, Any]:
    body = await json_body(request)

    async def work(op: Op) -> dict[str, Any]:
        fip = await _fip(op, fip_id, "update_port_forwarding")
        pf = await floating_ips.forwarding(op, fip, pf_id)
        return {"port_forwarding": await floating_ips.update_forwarding(op, fip, pf, body)}

    return await operations.run(state(request), current(request), work)


@router.delete("/floatingips/{fip_id}/port_forwardings/{pf_id}", status_code=204)
async def delete_forwarding(fip_id: str, pf_id: str, request: Request) -> Response:
    async def work(op: Op) -> None:
        fip = await _fip(op, fip_id, "delete_port_forwarding")
        await floating_ips.delete_forwarding(op, fip, pf_id)

    await operations.run(state(request), current(request), work)
    return Response(status_code=204)
