"""/servers/{id}/ips: the server's addresses, all or those on one network."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from overcast.common import errors
from overcast.compute import servers
from overcast.compute.api.deps import Req, req
from overcast.compute.api.servers import _json

router = APIRouter(prefix="/v2.1")


@router.get("/servers/{server_id}/ips")
async def index(server_id: str, r: Req = Depends(req)) -> Response:
    async with r.state.db.reader() as session:
        inst = await servers.get(session, r.ctx, server_id)
    r.enforce("os_compute_api:ips:index", {"project_id": inst.project_id})
    return _json({"addresses": dict(inst.addresses or {})})


@router.get("/servers/{server_id}/ips/{network}")
async def show(server_id: str, network: str, r: Req = Depends(req)) -> Response:
    async with r.state.db.reader() as session:
        inst = await servers.get(session, r.ctx, server_id)
    r.enforce("os_compute_api:ips:show", {"project_id": inst.project_id})
    addresses = inst.addresses or {}
    if network not in addresses:
        raise errors.NotFound("Instance is not a member of specified network")
    return _json({network: addresses[network]})
