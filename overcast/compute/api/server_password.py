"""`GET/DELETE /servers/{id}/os-server-password`: the encrypted password a guest posts to the
metadata service, kept in the server's system metadata as Nova keeps it. Overcast's metadata
service takes no password yet, so it reads empty until one is set; clearing forgets it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from overcast.compute import servers
from overcast.compute.api.deps import Req, req
from overcast.compute.api.servers import _json

router = APIRouter(prefix="/v2.1")
RULE = "os_compute_api:os-server-password"


@router.get("/servers/{server_id}/os-server-password")
async def show(server_id: str, r: Req = Depends(req)) -> Response:
    async with r.state.db.reader() as session:
        inst = await servers.get(session, r.ctx, server_id)
    r.enforce(f"{RULE}:show", {"project_id": inst.project_id})
    return _json({"password": (inst.system_metadata or {}).get("password", "")})


@router.delete("/servers/{server_id}/os-server-password")
async def clear(server_id: str, r: Req = Depends(req)) -> Response:
    async with r.state.db.session() as session:
        inst = await servers.get(session, r.ctx, server_id)
        r.enforce(f"{RULE}:clear", {"project_id": inst.project_id})
        inst.system_metadata = {
            k: v for k, v in (inst.system_metadata or {}).items() if k != "password"
        }
    return Response(status_code=204)
