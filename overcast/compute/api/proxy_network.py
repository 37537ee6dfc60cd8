"""Nova's proxies to the network service, up to microversion 2.35 (Nova removed them at 2.36):
`os-security-groups`, `os-security-group-rules`, `os-floating-ips`, `os-floating-ip-pools`;
the `addFloatingIp`/`removeFloatingIp` actions (to 2.43); and a server's `os-security-groups`
(every microversion). `compute.secgroup_proxy` and
`compute.floating_ip_proxy` do the translating."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.compute import floating_ip_proxy as fips
from overcast.compute import secgroup_proxy as groups
from overcast.compute.api.deps import Req, json_body, req
from overcast.compute.api.proxied import accepted, proxied
from overcast.compute.api.server_actions import action
from overcast.compute.api.servers import _json

router = APIRouter(prefix="/v2.1")
RULE = "os_compute_api:os-security-groups"


@router.get("/os-security-groups")
async def list_groups(r: Req = proxied(f"{RULE}:get")) -> Response:
    everyone = r.request.query_params.get("all_tenants") not in (None, "0", "false", "False")
    found = await groups.list_groups(r.state, r.ctx, everyone and r.ctx.is_admin)
    return _json({"security_groups": found})


@router.post("/os-security-groups")
async def create_group(request: Request, r: Req = proxied(f"{RULE}:create")) -> Response:
    made = await groups.create(r.state, r.ctx, await json_body(request))
    return _json({"security_group": made})


@router.get("/os-security-groups/{group_id}")
async def show_group(group_id: str, r: Req = proxied(f"{RULE}:show")) -> Response:
    return _json({"security_group": await groups.show(r.state, r.ctx, group_id)})


@router.put("/os-security-groups/{group_id}")
async def update_group(
    group_id: str, request: Request, r: Req = proxied(f"{RULE}:update")
) -> Response:
    changed = await groups.update(r.state, r.ctx, group_id, await json_body(request))
    return _json({"security_group": changed})


@router.delete("/os-security-groups/{group_id}")
async def delete_group(group_id: str, r: Req = proxied(f"{RULE}:delete")) -> Response:
    await groups.delete(r.state, r.ctx, group_id)
    return accepted()


@router.post("/os-security-group-rules")
async def create_rule(request: Request, r: Req = proxied(f"{RULE}:rule:create")) -> Response:
    made = await groups.create_rule(r.state, r.ctx, await json_body(request))
    return _json({"security_group_rule": made})


@router.delete("/os-security-group-rules/{rule_id}")
async def delete_rule(rule_id: str, r: Req = proxied(f"{RULE}:rule:delete")) -> Response:
    await groups.delete_rule(r.state, r.ctx, rule_id)
    return accepted()


@router.get("/servers/{server_id}/os-security-groups")
async def of_server(server_id: str, r: Req = Depends(req)) -> Response:
    r.enforce(f"{RULE}:list")
    return _json({"security_groups": await groups.of_server(r.state, r.ctx, server_id)})


FIP_RULE = "os_compute_api:os-floating-ips"


@router.get("/os-floating-ip-pools")
async def list_pools(r: Req = proxied("os_compute_api:os-floating-ip-pools:list")) -> Response:
    return _json({"floating_ip_pools": await fips.pools(r.state, r.ctx)})


@router.get("/os-floating-ips")
async def list_ips(r: Req = proxied(f"{FIP_RULE}:list")) -> Response:
    return _json({"floating_ips": await fips.list_ips(r.state, r.ctx)})


@router.post("/os-floating-ips")
async def allocate_ip(request: Request, r: Req = proxied(f"{FIP_RULE}:create")) -> Response:
    body = await json_body(request) if await request.body() else {}
    return _json({"floating_ip": await fips.allocate(r.state, r.ctx, body.get("pool"))})


@router.get("/os-floating-ips/{fip_id}")
async def show_ip(fip_id: str, r: Req = proxied(f"{FIP_RULE}:show")) -> Response:
    return _json({"floating_ip": await fips.show(r.state, r.ctx, fip_id)})


@router.delete("/os-floating-ips/{fip_id}")
async def release_ip(fip_id: str, r: Req = proxied(f"{FIP_RULE}:delete")) -> Response:
    await fips.release(r.state, r.ctx, fip_id)
    return accepted()


@action("addFloatingIp", "removeFloatingIp")
async def _floating_ip(r: Req, uuid: str, args: Any) -> Response:
    add = "addFloatingIp" in await json_body(r.request)
    r.served(removed_at="2.44")
    r.enforce(f"{FIP_RULE}:{'add' if add else 'remove'}", r.request.state.target)
    a = args if isinstance(args, dict) else {}
    if add:
        await fips.associate(r.state, r.ctx, uuid, a.get("address"), a.get("fixed_address"))
    else:
        await fips.disassociate(r.state, r.ctx, uuid, a.get("address"))
    return accepted()
