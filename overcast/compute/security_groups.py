"""`addSecurityGroup` / `removeSecurityGroup` on a server, as Nova does it with Neutron: the
group (by name or id, of the server's project) is added to or removed from every port of the
server through the network service, and the server's record lists its groups."""

from __future__ import annotations

from typing import Any

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.compute import servers
from overcast.compute.state import ComputeState


async def change(st: ComputeState, ctx: RequestContext, uuid: str, name: Any, add: bool) -> None:
    if not isinstance(name, str) or not name:
        raise errors.BadRequest("Invalid input for field/attribute name.")
    async with st.db.reader() as session:
        inst = await servers.get(session, ctx, uuid)
    client = st.remote.network(ctx.to_dict())
    if client is None:
        raise errors.BadRequest("There is no network service to hold security groups.")
    group = await client.get_security_group(name, inst.project_id)
    if group is None:
        raise errors.NotFound(f"Security group {name} not found for project {inst.project_id}.")
    ports = await client.list_ports(device_id=uuid)
    holding = [p for p in ports if group["id"] in p.get("security_groups", [])]
    if not add and not holding:
        raise errors.NotFound(f"Security group {name} not associated with the instance {uuid}")
    for port in ports:
        groups = [g for g in port.get("security_groups", []) if g != group["id"]]
        if add:
            groups.append(group["id"])
        if groups != port.get("security_groups", []):
            await client.update_port(port["id"], security_groups=groups)
    async with st.db.session() as session:
        inst = await servers.get(session, ctx, uuid)
        names = [g for g in inst.security_groups or [] if g != group["name"]]
        inst.security_groups = [*names, group["name"]] if add else names
