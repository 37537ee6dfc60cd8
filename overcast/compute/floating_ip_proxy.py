"""Nova's floating IP proxy (`os-floating-ips`, `os-floating-ip-pools`): the network service's
floating IPs in Nova's shape, with the caller's token. A pool is an external network, named;
a request that names no pool takes the first external network (Nova's `default_floating_pool`
names one; here the cloud's external network is the natural default). Called by
`api.proxy_network`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.compute.secgroup_proxy import network
from overcast.compute.state import ComputeState

Json = dict[str, Any]


async def _pools(st: ComputeState, ctx: RequestContext) -> list[Json]:
    found = await network(st, ctx).call("GET", "/v2.0/networks", **{"router:external": "true"})
    return list(found["networks"])


async def _view(st: ComputeState, ctx: RequestContext, fip: Json, pools: list[Json]) -> Json:
    names = {p["id"]: p["name"] for p in pools}
    instance = None
    if fip.get("port_id"):
        port = await network(st, ctx).call("GET", f"/v2.0/ports/{fip['port_id']}")
        instance = port["port"].get("device_id") or None
    return {
        "id": fip["id"],
        "pool": names.get(fip["floating_network_id"]),
        "instance_id": instance,
        "ip": fip["floating_ip_address"],
        "fixed_ip": fip.get("fixed_ip_address"),
    }


async def pools(st: ComputeState, ctx: RequestContext) -> list[Json]:
    return [{"name": p["name"]} for p in await _pools(st, ctx)]


async def list_ips(st: ComputeState, ctx: RequestContext) -> list[Json]:
    found = await network(st, ctx).call("GET", "/v2.0/floatingips", project_id=ctx.project_id or "")
    known = await _pools(st, ctx)
    return [await _view(st, ctx, f, known) for f in found["floatingips"]]


async def show(st: ComputeState, ctx: RequestContext, fip_id: str) -> Json:
    try:
        found = await network(st, ctx).call("GET", f"/v2.0/floatingips/{quote(fip_id, safe='')}")
    except errors.NotFound as exc:
        raise errors.NotFound(f"Floating IP {fip_id} could not be found.") from exc
    return await _view(st, ctx, found["floatingip"], await _pools(st, ctx))


async def allocate(st: ComputeState, ctx: RequestContext, pool: Any) -> Json:
    if pool is not None and not isinstance(pool, str):
        raise errors.BadRequest("Invalid input for field/attribute pool.")
    known = await _pools(st, ctx)
    chosen = [p for p in known if pool is None or pool in (p["name"], p["id"])]
    if not chosen:
        raise errors.NotFound("Floating IP pool not found.")
    body = {"floatingip": {"floating_network_id": chosen[0]["id"]}}
    try:
        made = await network(st, ctx).call("POST", "/v2.0/floatingips", body)
    except errors.Conflict as exc:  # the network service's quota
        raise errors.Forbidden(f"Quota exceeded, too many floating ips: {exc.message}") from exc
    return await _view(st, ctx, made["floatingip"], known)


async def release(st: ComputeState, ctx: RequestContext, fip_id: str) -> None:
    try:
        await network(st, ctx).call("DELETE", f"/v2.0/floatingips/{quote(fip_id, safe='')}")
    except errors.NotFound as exc:
        raise errors.NotFound(f"Floating IP {fip_id} could not be found.") from exc


async def _by_address(st: ComputeState, ctx: RequestContext, address: Any) -> Json:
    if not isinstance(address, str) or not address:
        raise errors.BadRequest("Invalid input for field/attribute address.")
    found = await network(st, ctx).call("GET", "/v2.0/floatingips", floating_ip_address=address)
    if not found["floatingips"]:
        raise errors.NotFound(f"Floating IP not found for address {address}.")
    return dict(found["floatingips"][0])


async def associate(
    st: ComputeState, ctx: RequestContext, uuid: str, address: Any, fixed: Any
) -> None:
    """`addFloatingIp`: the address onto the server's port (the one with `fixed`, or the
    first with an IPv4 address)."""
    fip = await _by_address(st, ctx, address)
    ports = await network(st, ctx).list_ports(device_id=uuid)
    for port in ports:
        for ip in port.get("fixed_ips", []):
            if (fixed is None and ":" not in ip["ip_address"]) or ip["ip_address"] == fixed:
                body = {"floatingip": {"port_id": port["id"], "fixed_ip_address": ip["ip_address"]}}
                try:
                    await network(st, ctx).call("PUT", f"/v2.0/floatingips/{fip['id']}", body)
                except errors.Conflict as exc:  # that address has a floating IP already
                    raise errors.BadRequest(exc.message) from exc
                return
    what = f"fixed IP {fixed}" if fixed is not None else "IPv4 address"
    raise errors.BadRequest(f"Instance {uuid} has no {what} to associate {address} with.")


async def disassociate(st: ComputeState, ctx: RequestContext, uuid: str, address: Any) -> None:
    """`removeFloatingIp`: only from the server that has it (409 otherwise, as Nova)."""
    fip = await _by_address(st, ctx, address)
    port = None
    if fip.get("port_id"):
        port = (await network(st, ctx).call("GET", f"/v2.0/ports/{fip['port_id']}"))["port"]
    if port is None or port.get("device_id") != uuid:
        raise errors.Conflict(f"Floating IP {address} is not associated with instance {uuid}.")
    body = {"floatingip": {"port_id": None}}
    await network(st, ctx).call("PUT", f"/v2.0/floatingips/{fip['id']}", body)
