"""`os-tenant-networks` and `os-networks` (to 2.35, as Nova): the networks the caller may boot
on, through `compute.tenant_network_proxy`. Creating and deleting them went with
nova-network."""

from __future__ import annotations

from fastapi import APIRouter, Response

from overcast.compute import tenant_network_proxy as networks
from overcast.compute.api.deps import Req
from overcast.compute.api.proxied import proxied
from overcast.compute.api.servers import _json

router = APIRouter(prefix="/v2.1")
RULE = "os_compute_api:os-tenant-networks"


@router.get("/os-tenant-networks")
async def list_networks(r: Req = proxied(f"{RULE}:list")) -> Response:
    return _json({"networks": await networks.list_networks(r.state, r.ctx)})


@router.get("/os-tenant-networks/{network_id}")
async def show_network(network_id: str, r: Req = proxied(f"{RULE}:show")) -> Response:
    return _json({"network": await networks.show(r.state, r.ctx, network_id)})


@router.get("/os-networks")
async def list_all(r: Req = proxied("os_compute_api:os-networks:list")) -> Response:
    return _json({"networks": await networks.list_networks(r.state, r.ctx)})


@router.get("/os-networks/{network_id}")
async def show_one(
    network_id: str, r: Req = proxied("os_compute_api:os-networks:view")
) -> Response:
    return _json({"network": await networks.show(r.state, r.ctx, network_id)})
