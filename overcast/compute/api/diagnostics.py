"""/servers/{id}/diagnostics: the guest's counters (CPU time, memory, disk and NIC I/O) read by
its host's agent from the driver; the standard form from microversion 2.48, the older flat
form before it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from overcast.compute import server_actions, servers
from overcast.compute.api.deps import Req, req
from overcast.compute.api.servers import _json

router = APIRouter(prefix="/v2.1")


def _flat(diag: dict[str, Any]) -> dict[str, Any]:
    """Before 2.48 each driver answered its own keys; these are the libvirt driver's."""
    out: dict[str, Any] = {}
    for cpu in diag.get("cpu_details") or []:
        out[f"cpu{cpu.get('id', 0)}_time"] = cpu.get("time")
    memory = diag.get("memory_details") or {}
    out["memory"] = (memory.get("maximum") or 0) * 1024
    out["memory-actual"] = out["memory"]
    out["memory-rss"] = (memory.get("used") or 0) * 1024
    for index, disk in enumerate(diag.get("disk_details") or []):
        name = f"vd{chr(ord('a') + index)}"
        out[f"{name}_read"] = disk.get("read_bytes")
        out[f"{name}_read_req"] = disk.get("read_requests")
        out[f"{name}_write"] = disk.get("write_bytes")
        out[f"{name}_write_req"] = disk.get("write_requests")
        out[f"{name}_errors"] = disk.get("errors_count")
    for index, nic in enumerate(diag.get("nic_details") or []):
        for way in ("rx", "tx"):
            out[f"vnet{index}_{way}"] = nic.get(f"{way}_octets")
            for what in ("packets", "errors"):
                out[f"vnet{index}_{way}_{what}"] = nic.get(f"{way}_{what}")
            out[f"vnet{index}_{way}_drop"] = nic.get(f"{way}_drop")
    return out


@router.get("/servers/{server_id}/diagnostics")
async def show(server_id: str, r: Req = Depends(req)) -> Response:
    async with r.state.db.reader() as session:
        inst = await servers.get(session, r.ctx, server_id)
    r.enforce("os_compute_api:os-server-diagnostics", {"project_id": inst.project_id})
    diag = await server_actions.diagnostics(r.state, r.ctx, server_id)
    return _json(diag if r.at_least("2.48") else _flat(diag))
