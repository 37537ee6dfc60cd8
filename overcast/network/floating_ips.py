"""Floating IPs: an address of an external network (chosen, or from its pools), associated
with a port's fixed IPv4 address when a router joins that port's subnet to the external
network, and the port forwardings of a floating IP that no port holds."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from overcast.common.db.base import new_uuid
from overcast.network import attributes as a
from overcast.network import faults, fixed_ips, networks, ports, quotas, routers, standard
from overcast.network.kinds import Kind, Op
from overcast.network.models import FloatingIP, IPAllocation, Port, PortForwarding

OWNER = "network:floatingip"


class FloatingIPs(Kind):
    name = "floatingip"
    collection = "floatingips"
    path = "floatingips"
    model = FloatingIP
    attrs = a.standard(
        floating_network_id=a.Attr(convert=a.uuid_, default=a.MISSING),
        floating_ip_address=a.Attr(convert=a.ip_address),
        subnet_id=a.Attr(convert=a.uuid_or_none, filter=False, sort=False),
        port_id=a.Attr(convert=a.uuid_or_none, put=True),
        fixed_ip_address=a.Attr(convert=a.ip_or_none, put=True),
        router_id=a.Attr(post=False),
        status=a.Attr(post=False),
        dns_name=a.Attr(convert=a.dns_name, default=""),
        dns_domain=a.Attr(convert=a.dns_name, default=""),
        qos_policy_id=a.Attr(convert=a.uuid_or_none, put=True),
        port_details=a.Attr(post=False, filter=False, sort=False),
        port_forwardings=a.Attr(post=False, filter=False, sort=False),
    )

    async def views(self, op: Op, rows: Sequence[FloatingIP]) -> list[dict[str, Any]]:
        tags = await standard.tags_of(op.session, [r.id for r in rows])
        port_ids = [r.port_id for r in rows if r.port_id]
        details = {}
        if port_ids:
            for port in (
                await op.session.execute(select(Port).where(Port.id.in_(port_ids)))
            ).scalars():
                details[port.id] = {
                    "name": port.name,
                    "network_id": port.network_id,
                    "mac_address": port.mac_address,
                    "admin_state_up": port.admin_state_up,
                    "status": port.status,
                    "device_id": port.device_id,
                    "device_owner": port.device_owner,
                }
        forwards: dict[str, list[dict[str, Any]]] = {}
        ids = [r.id for r in rows]
        if ids:
            for pf in (
                await op.session.execute(
                    select(PortForwarding).where(PortForwarding.floatingip_id.in_(ids))
                )
            ).scalars():
                forwards.setdefault(pf.floatingip_id, []).append(forward_view(pf, brief=True))
        out = []
        for row in rows:
            body = standard.fields(row, tags.get(row.id))
            body.update(
                floating_network_id=row.floating_network_id,
                floating_ip_address=row.floating_ip_address,
                port_id=row.port_id,
                fixed_ip_address=row.fixed_ip_address,
                router_id=row.router_id,
                status=row.status,
                dns_name=row.dns_name,
                dns_domain=row.dns_domain,
                qos_policy_id=row.qos_policy_id,
                qos_network_policy_id=None,
                port_details=details.get(row.port_id or ""),
                port_forwardings=forwards.get(row.id, []),
            )
            out.append(body)
        return out

    async def create(self, op: Op, values: dict[str, Any]) -> FloatingIP:
        net = await routers.external_network(op, values["floating_network_id"], kind="floatingip")
        project = values.get("project_id") or op.ctx.project_id or ""
        await quotas.check(op.session, op.st.settings.network.default_quotas, "floatingip", project)
        requested = None
        if values.get("floating_ip_address") or values.get("subnet_id"):
            item: dict[str, Any] = {}
            if values.get("subnet_id"):
                item["subnet_id"] = values["subnet_id"]
            if values.get("floating_ip_address"):
                item["ip_address"] = values["floating_ip_address"]
            requested = [item]
        fip_id = new_uuid()
        port = await ports.service_port(op, net, "", OWNER, fip_id, requested)
        allocs = await fixed_ips.allocations(op, [port.id])
        v4 = [x for x in allocs if ipaddress.ip_address(x.ip_address).version == 4] or allocs
        if not v4:
            raise faults.bad(
                f"Bad floatingip request: network {net.id} has no subnet to allocate from.",
                "BadRequest",
            )
        row = FloatingIP(
            id=fip_id,
            project_id=project,
            description=values["description"],
            floating_network_id=net.id,
            floating_ip_address=v4[0].ip_address,
            floating_port_id=port.id,
            dns_name=values["dns_name"],
            dns_domain=values["dns_domain"],
            qos_policy_id=values.get("qos_policy_id"),
        )
        op.session.add(row)
        await op.session.flush()
        if values.get("port_id"):
            await associate(op, row, values["port_id"], values.get("fixed_ip_address"))
            op.routers_changed()
        return row

    async def update(self, op: Op, row: FloatingIP, values: dict[str, Any]) -> FloatingIP:
        if "port_id" in values:
            if values["port_id"] is None:
                row.port_id = row.fixed_ip_address = row.router_id = None
                row.status = "DOWN"
            else:
                await associate(op, row, values["port_id"], values.get("fixed_ip_address"))
        for key in ("description", "qos_policy_id"):
            if key in values:
                setattr(row, key, values[key])
        op.routers_changed()
        return row

    async def delete(self, op: Op, row: FloatingIP) -> None:
        await networks.delete_floating_ip(op, row)


async def _router_for(op: Op, row: FloatingIP, port: Port, fixed: str) -> str:
    alloc = await op.session.get(IPAllocation, (port.network_id, fixed))
    assert alloc is not None
    router_id = await routers.path_to(op, row.floating_network_id, alloc.subnet_id)
    if router_id is None:
        raise faults.not_found_text(
            f"External network {row.floating_network_id} is not reachable from subnet {alloc.subnet_id}.  Therefore, cannot associate Port {port.id} with a Floating IP.",
            "ExternalGatewayForFloatingIPNotFound",
        )
    return router_id


async def _internal_address(op: Op, port: Port, fixed: str | None) -> str:
    addresses = [
        x.ip_address
        for x in await fixed_ips.allocations(op, [port.id])
        if ipaddress.ip_address(x.ip_address).version == 4
    ]
    if fixed is not None:
        if fixed not in addresses:
            raise faults.bad(
                f"Bad floatingip request: Port {port.id} does not have fixed ip {fixed}.",
                "BadRequest",
            )
        return fixed
    if not addresses:
        raise faults.bad(
            f"Bad floatingip request: Port {port.id} does not have any IPv4 address to associate with a floating IP.",
            "BadRequest",
        )
    if len(addresses) > 1:
        raise faults.bad(
            f"Bad floatingip request: Port {port.id} has multiple fixed IPv4 addresses.  Must provide a specific IPv4 address when assigning a floating IP.",
            "BadRequest",
        )
    return addresses[0]


async def associate(op: Op, row: FloatingIP, port_id: str, fixed: str | None) -> None:
    port = await ports.Ports().load(op, port_id)
    if not op.admin and port.project_id != row.project_id:
        raise faults.not_found("port", port_id)
    if port.device_owner.startswith("network:"):
        raise faults.bad(
            f"Bad floatingip request: Port {port.id} belongs to router or is a network service port; it cannot have a floating IP.",
            "BadRequest",
        )
    if await op.session.scalar(
        select(PortForwarding.id).where(PortForwarding.floatingip_id == row.id).limit(1)
    ):
        raise faults.conflict(
            f"Floating IP {row.id} has port forwardings; it cannot be associated with a port.",
            "FipInUseByPortForwarding",
        )
    address = await _internal_address(op, port, fixed)
    router_id = await _router_for(op, row, port, address)
    other = await op.session.scalar(
        select(FloatingIP.id).where(
            FloatingIP.port_id == port.id,
            FloatingIP.fixed_ip_address == address,
            FloatingIP.floating_network_id == row.floating_network_id,
            FloatingIP.id != row.id,
        )
    )
    if other is not None:
        raise faults.conflict(
            f"Cannot associate floating IP {row.floating_ip_address} ({row.id}) with port {port.id} using fixed IP {address}, as that fixed IP already has a floating IP on external network {row.floating_network_id}.",
            "FloatingIPPortAlreadyAssociated",
        )
    row.port_id, row.fixed_ip_address, row.router_id = port.id, address, router_id
    row.status = "ACTIVE"


def forward_view(pf: PortForwarding, brief: bool = False) -> dict[str, Any]:
    body = {
        "id": pf.id,
        "internal_port_id": pf.internal_port_id,
        "internal_ip_address": pf.internal_ip_address,
        "internal_port": pf.internal_port,
        "external_port": pf.external_port,
        "protocol": pf.protocol,
        "description": pf.description,
    }
    if brief:
        del body["internal_port_id"]
    else:
        body["internal_port_range"] = str(pf.internal_port)
        body["external_port_range"] = str(pf.external_port)
    return body


_FORWARD = a.dict_of(
    {
        "internal_port_id": a.uuid_,
        "internal_ip_address": a.ip_address,
        "internal_port": a.integer(1, 65535),
        "external_port": a.integer(1, 65535),
        "protocol": a.one_of("tcp", "udp"),
    },
    {"description": a.string(255)},
)
_FORWARD_UPDATE = a.dict_of(
    {},
    {
        "internal_port_id": a.uuid_,
        "internal_ip_address": a.ip_address,
        "internal_port": a.integer(1, 65535),
        "external_port": a.integer(1, 65535),
        "protocol": a.one_of("tcp", "udp"),
        "description": a.string(255),
    },
)


async def _check_forward(
    op: Op, fip: FloatingIP, values: dict[str, Any], exclude: str | None
) -> str:
    """The router that carries the forwarding (400/404/409 when it cannot be made)."""
    if fip.port_id:
        raise faults.conflict(
            f"Floating IP {fip.id} is associated with port {fip.port_id}; it cannot have port forwardings.",
            "FipInUseByPortForwarding",
        )
    port = await ports.Ports().load(op, values["internal_port_id"])
    address = await _internal_address(op, port, values["internal_ip_address"])
    router_id = await _router_for(op, fip, port, address)
    clash = await op.session.scalar(
        select(PortForwarding.id).where(
            PortForwarding.floatingip_id == fip.id,
            PortForwarding.external_port == values["external_port"],
            PortForwarding.protocol == values["protocol"],
            PortForwarding.id != (exclude or ""),
        )
    )
    if clash is not None:
        raise faults.bad(
            f"A duplicate port forwarding entry with same attributes already exists, conflicting values are {{'floatingip_id': '{fip.id}', 'external_port': {values['external_port']}, 'protocol': '{values['protocol']}'}}",
            "BadRequest",
        )
    return router_id


async def add_forwarding(op: Op, fip: FloatingIP, body: Any) -> dict[str, Any]:
    values = _FORWARD(_member(body))
    fip.router_id = await _check_forward(op, fip, values, None)
    pf = PortForwarding(
        id=new_uuid(),
        floatingip_id=fip.id,
        description=values.get("description", ""),
        **{k: v for k, v in values.items() if k != "description"},
    )
    op.session.add(pf)
    standard.bump(fip)
    op.routers_changed()
    await op.session.flush()
    return forward_view(pf)


async def update_forwarding(
    op: Op, fip: FloatingIP, pf: PortForwarding, body: Any
) -> dict[str, Any]:
    values = _FORWARD_UPDATE(_member(body))
    merged = {**forward_view(pf), **values}
    fip.router_id = await _check_forward(op, fip, merged, pf.id)
    for key, value in values.items():
        setattr(pf, key, value)
    standard.bump(fip)
    op.routers_changed()
    return forward_view(pf)


def _member(body: Any) -> Any:
    if not isinstance(body, dict) or "port_forwarding" not in body:
        raise faults.bad("Resource body required: 'port_forwarding' is missing.", "HTTPBadRequest")
    return body["port_forwarding"]


async def forwarding(op: Op, fip: FloatingIP, pf_id: str) -> PortForwarding:
    pf = await op.session.get(PortForwarding, pf_id)
    if pf is None or pf.floatingip_id != fip.id:
        raise faults.not_found("port_forwarding", pf_id)
    return pf


async def forwardings(op: Op, fip: FloatingIP) -> list[dict[str, Any]]:
    found = await op.session.execute(
        select(PortForwarding).where(PortForwarding.floatingip_id == fip.id)
    )
    return [forward_view(pf) for pf in found.scalars()]


async def delete_forwarding(op: Op, fip: FloatingIP, pf_id: str) -> None:
    await op.session.delete(await forwarding(op, fip, pf_id))
    await op.session.flush()
    if (
        await op.session.scalar(
            select(PortForwarding.id).where(PortForwarding.floatingip_id == fip.id).limit(1)
        )
        is None
    ):
        fip.router_id = None
    standard.bump(fip)
    op.routers_changed()
