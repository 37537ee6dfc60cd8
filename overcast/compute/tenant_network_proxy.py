"""Nova's tenant network proxy (`os-tenant-networks`, to 2.35): the networks the caller sees
in the network service (its own, shared and external ones), each as Nova shows it: its name
as `label` and its first IPv4 subnet's CIDR (None without one). Called by
`api.proxy_tenant_networks`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.compute.secgroup_proxy import network
from overcast.compute.state import ComputeState

Json = dict[str, Any]


def _view(net: Json, cidrs: dict[str, str]) -> Json:
    first = next((cidrs[s] for s in net.get("subnets", []) if s in cidrs), None)
    return {"id": net["id"], "label": net.get("name") or "", "cidr": first}


async def _cidrs(st: ComputeState, ctx: RequestContext) -> dict[str, str]:
    found = await network(st, ctx).call("GET", "/v2.0/subnets", ip_version="4")
    return {s["id"]: s["cidr"] for s in found["subnets"]}


async def list_networks(st: ComputeState, ctx: RequestContext) -> list[Json]:
    found = await network(st, ctx).call("GET", "/v2.0/networks")
    cidrs = await _cidrs(st, ctx)
    return [_view(n, cidrs) for n in found["networks"]]


async def show(st: ComputeState, ctx: RequestContext, network_id: str) -> Json:
    try:
        found = await network(st, ctx).call("GET", f"/v2.0/networks/{quote(network_id, safe='')}")
    except errors.NotFound as exc:
        raise errors.NotFound(f"Network {network_id} could not be found.") from exc
    return _view(found["network"], await _cidrs(st, ctx))
