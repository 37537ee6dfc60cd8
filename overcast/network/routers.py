"""Routers: the external gateway (SNAT on or off, its fixed IPs), interfaces by subnet or by
port, extra routes, and the HA/distributed flags an admin sets. A router's gateway and
interfaces are ports it owns (`network:router_gateway`, `network:router_interface`)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select

from overcast.network import attributes as a
from overcast.network import faults, fixed_ips, ipam, networks, ports, quotas, standard
from overcast.network.kinds import Kind, Op
from overcast.network.models import FloatingIP, IPAllocation, Network, Port, Router, Subnet

GATEWAY = "network:router_gateway"
INTERFACE = "network:router_interface"
MAX_ROUTES = 30

_gw_ip = a.dict_of({}, {"subnet_id": a.uuid_, "ip_address": a.ip_address})
_gateway = a.dict_of(
    {},
    {
        "network_id": a.uuid_,
        "enable_snat": a.boolean,
        "external_fixed_ips": a.list_of(_gw_ip, unique=False),
        "qos_policy_id": a.uuid_or_none,
    },
)
_route = a.dict_of({"destination": a.cidr, "nexthop": a.ip_address})


def _gateway_or_none(value: Any) -> dict[str, Any] | None:
    if value is None or value == {}:
        return None
    found: dict[str, Any] = _gateway(value)
    if "network_id" not in found:
        raise faults.bad(
            "Invalid input for external_gateway_info. Reason: network_id is required.",
            "HTTPBadRequest",
        )
    return found


class Routers(Kind):
    name = "router"
    collection = "routers"
    path = "routers"
    model = Router
    attrs = a.standard(
        name=a.name_attr(),
        admin_state_up=a.Attr(convert=a.boolean, put=True, default=True),
        status=a.Attr(post=False),
        external_gateway_info=a.Attr(convert=_gateway_or_none, put=True, filter=False, sort=False),
        routes=a.Attr(convert=a.list_of(_route), put=True, filter=False, sort=False),
        ha=a.Attr(convert=a.boolean, put=True),
        distributed=a.Attr(convert=a.boolean, put=True),
        availability_zone_hints=a.Attr(
            convert=a.list_of(a.string(255)), default=list, filter=False, sort=False
        ),
        availability_zones=a.Attr(post=False, filter=False, sort=False),
        flavor_id=a.Attr(convert=a.uuid_or_none, filter=False),
        enable_ndp_proxy=a.Attr(post=False, filter=False, sort=False),
    )
    guarded = ("ha", "distributed")

    async def views(self, op: Op, rows: Sequence[Router]) -> list[dict[str, Any]]:
        tags = await standard.tags_of(op.session, [r.id for r in rows])
        gw_ips: dict[str, list[dict[str, str]]] = {}
        gw_ports = [r.gw_port_id for r in rows if r.gw_port_id]
        for alloc in await fixed_ips.allocations(op, gw_ports):
            gw_ips.setdefault(alloc.port_id, []).append(
                {"subnet_id": alloc.subnet_id, "ip_address": alloc.ip_address}
            )
        return [view(r, tags.get(r.id), gw_ips.get(r.gw_port_id or "", [])) for r in rows]

    async def create(self, op: Op, values: dict[str, Any]) -> Router:
        project = values.get("project_id") or op.ctx.project_id or ""
        await quotas.check(op.session, op.st.settings.network.default_quotas, "router", project)
        zones = set(op.st.settings.network.default_availability_zones)
        for zone in values["availability_zone_hints"]:
            if zone not in zones:
                raise faults.not_found("availability_zone", zone)
        row = Router(
            project_id=project,
            name=values["name"],
            description=values["description"],
            admin_state_up=values["admin_state_up"],
            ha=values.get("ha", False),
            distributed=values.get("distributed", False),
            availability_zone_hints=values["availability_zone_hints"],
            flavor_id=values.get("flavor_id"),
        )
        op.session.add(row)
        await op.session.flush()
        if values.get("external_gateway_info"):
            await set_gateway(op, row, values["external_gateway_info"])
        op.routers_changed()
        return row

    async def update(self, op: Op, row: Router, values: dict[str, Any]) -> Router:
        if "external_gateway_info" in values:
            wanted = values["external_gateway_info"]
            if wanted is None:
                await clear_gateway(op, row)
            elif wanted["network_id"] == row.gw_network_id and "external_fixed_ips" not in wanted:
                row.enable_snat = wanted.get("enable_snat", row.enable_snat)
            else:
                await clear_gateway(op, row)
                await set_gateway(op, row, wanted)
        if "routes" in values:
            await _check_routes(op, row, values["routes"])
            row.routes = values["routes"]
        for key in ("name", "description", "admin_state_up", "ha", "distributed"):
            if key in values:
                setattr(row, key, values[key])
        op.routers_changed()
        return row

    async def delete(self, op: Op, row: Router) -> None:
        busy = await op.session.scalar(
            select(func.count())
            .select_from(Port)
            .where(Port.device_id == row.id, Port.device_owner == INTERFACE)
        )
        if busy:
            raise faults.conflict(f"Router {row.id} still has ports", "RouterInUse")
        await clear_gateway(op, row)
        await op.session.delete(row)
        op.routers_changed()


def view(row: Router, tags: list[str] | None, gw_ips: list[dict[str, str]]) -> dict[str, Any]:
    body = standard.fields(row, tags)
    gateway = None
    if row.gw_network_id:
        gateway = {
            "network_id": row.gw_network_id,
            "enable_snat": row.enable_snat,
            "external_fixed_ips": gw_ips,
        }
    body.update(
        name=row.name,
        admin_state_up=row.admin_state_up,
        status=row.status,
        external_gateway_info=gateway,
        routes=list(row.routes or []),
        ha=row.ha,
        distributed=row.distributed,
        availability_zone_hints=list(row.availability_zone_hints or []),
        availability_zones=list(row.availability_zone_hints or []) or ["nova"],
        flavor_id=row.flavor_id,
        enable_ndp_proxy=False,
    )
    return body


async def external_network(op: Op, network_id: str, kind: str = "router") -> Network:
    net = await networks.network_for(op, network_id)
    if not net.external:
        if kind == "router":
            raise faults.bad(
                f"Bad router request: Network {network_id} is not an external network.",
                "BadRequest",
            )
        raise faults.bad(
            f"Bad floatingip request: Network {network_id} is not a valid external network.",
            "BadRequest",
        )
    return net


async def set_gateway(op: Op, row: Router, info: dict[str, Any]) -> None:
    net = await external_network(op, info["network_id"])
    requested = info.get("external_fixed_ips") or None
    port = await ports.service_port(op, net, "", GATEWAY, row.id, requested)
    row.gw_network_id, row.gw_port_id = net.id, port.id
    row.enable_snat = info.get("enable_snat", True)
    await _check_overlap(op, row, [])


async def clear_gateway(op: Op, row: Router) -> None:
    if row.gw_port_id is None:
        return
    used = await op.session.scalar(
        select(FloatingIP.id)
        .where(FloatingIP.router_id == row.id, FloatingIP.floating_network_id == row.gw_network_id)
        .limit(1)
    )
    if used is not None:
        raise faults.conflict(
            f"Gateway cannot be updated for router {row.id}, since a gateway to external network {row.gw_network_id} is required by one or more floating IPs.",
            "RouterExternalGatewayInUseByFloatingIp",
        )
    await op.session.execute(delete(Port).where(Port.id == row.gw_port_id))
    row.gw_network_id = row.gw_port_id = None


async def interface_subnets(op: Op, router_id: str) -> list[Subnet]:
    rows = await op.session.execute(
        select(Subnet)
        .join(IPAllocation, IPAllocation.subnet_id == Subnet.id)
        .join(Port, Port.id == IPAllocation.port_id)
        .where(Port.device_id == router_id, Port.device_owner == INTERFACE)
    )
    return list(rows.scalars())


async def _check_overlap(op: Op, row: Router, new: list[Subnet]) -> None:
    attached = await interface_subnets(op, row.id)
    for subnet in new:
        for other in attached:
            if other.id != subnet.id and ipam.overlaps(other.cidr, subnet.cidr):
                raise faults.bad(
                    f"Bad router request: Cidr {subnet.cidr} of subnet {subnet.id} overlaps with cidr {other.cidr} of subnet {other.id}.",
                    "BadRequest",
                )


async def add_interface(op: Op, row: Router, body: dict[str, Any]) -> dict[str, Any]:
    subnet_id, port_id = body.get("subnet_id"), body.get("port_id")
    if bool(subnet_id) == bool(port_id):
        raise faults.bad(
            "Bad router request: Either subnet_id or port_id must be specified.", "BadRequest"
        )
    if port_id:
        port = await ports.Ports().load(op, a.uuid_(port_id))
        if port.device_id or port.device_owner:
            raise faults.conflict(
                f"Unable to complete operation on port {port.id} for network {port.network_id}. Port already has an attached device {port.device_id}.",
                "PortInUse",
            )
        allocs = await fixed_ips.allocations(op, [port.id])
        if not allocs:
            raise faults.bad(
                "Bad router request: Router port must have at least one fixed IP.", "BadRequest"
            )
        subnets = [
            s for s in [await op.session.get(Subnet, x.subnet_id) for x in allocs] if s is not None
        ]
        attached = {s.id for s in await interface_subnets(op, row.id)}
        for subnet in subnets:
            if subnet.id in attached:
                raise faults.bad(
                    f"Bad router request: Router already has a port on subnet {subnet.id}.",
                    "BadRequest",
                )
        await _check_overlap(op, row, subnets)
        port.device_id, port.device_owner, port.status = row.id, INTERFACE, "ACTIVE"
    else:
        subnet = await op.session.get(Subnet, a.uuid_(subnet_id))
        visible = subnet is not None and (op.admin or subnet.project_id == op.ctx.project_id)
        if subnet is None or not visible:
            raise faults.not_found("subnet", str(subnet_id))
        if subnet.gateway_ip is None:
            raise faults.bad(
                f"Bad router request: Subnet {subnet.id} does not have a gateway IP.", "BadRequest"
            )
        if subnet.id in {s.id for s in await interface_subnets(op, row.id)}:
            raise faults.bad(
                f"Bad router request: Router already has a port on subnet {subnet.id}.",
                "BadRequest",
            )
        await _check_overlap(op, row, [subnet])
        net = await op.session.get(Network, subnet.network_id)
        assert net is not None
        port = await ports.service_port(
            op,
            net,
            subnet.project_id,
            INTERFACE,
            row.id,
            [{"subnet_id": subnet.id, "ip_address": subnet.gateway_ip}],
        )
        subnets = [subnet]
    standard.bump(row)
    op.routers_changed()
    return _interface_info(row, port, subnets)


def _interface_info(row: Router, port: Port, subnets: list[Subnet]) -> dict[str, Any]:
    return {
        "id": row.id,
        "tenant_id": row.project_id,
        "project_id": row.project_id,
        "port_id": port.id,
        "network_id": port.network_id,
        "subnet_id": subnets[0].id if subnets else None,
        "subnet_ids": [s.id for s in subnets],
    }


async def remove_interface(op: Op, row: Router, body: dict[str, Any]) -> dict[str, Any]:
    subnet_id, port_id = body.get("subnet_id"), body.get("port_id")
    if not subnet_id and not port_id:
        raise faults.bad(
            "Bad router request: Either subnet_id or port_id must be specified.", "BadRequest"
        )
    stmt = select(Port).where(Port.device_id == row.id, Port.device_owner == INTERFACE)
    if port_id:
        stmt = stmt.where(Port.id == port_id)
    if subnet_id:
        stmt = stmt.where(
            Port.id.in_(select(IPAllocation.port_id).where(IPAllocation.subnet_id == subnet_id))
        )
    port = (await op.session.execute(stmt)).scalars().first()
    if port is None:
        if port_id:
            raise faults.not_found_interface(row.id, port_id)
        raise errors_no_subnet(row.id, str(subnet_id))
    allocs = await fixed_ips.allocations(op, [port.id])
    subnets = [
        s for s in [await op.session.get(Subnet, x.subnet_id) for x in allocs] if s is not None
    ]
    for subnet in subnets:
        used = await op.session.scalar(
            select(FloatingIP.id)
            .join(IPAllocation, IPAllocation.port_id == FloatingIP.port_id)
            .where(FloatingIP.router_id == row.id, IPAllocation.subnet_id == subnet.id)
            .limit(1)
        )
        if used is not None:
            raise faults.conflict(
                f"Router interface for subnet {subnet.id} on router {row.id} cannot be deleted, as it is required by one or more floating IPs.",
                "RouterInterfaceInUseByFloatingIP",
            )
    info = _interface_info(row, port, subnets)
    await op.session.delete(port)
    standard.bump(row)
    op.routers_changed()
    return info


def errors_no_subnet(router_id: str, subnet_id: str) -> Exception:
    return faults.not_found_text(
        f"Router {router_id} has no interface on subnet {subnet_id}",
        "RouterInterfaceNotFoundForSubnet",
    )


async def _check_routes(op: Op, row: Router, routes: list[dict[str, str]]) -> None:
    if len(routes) > MAX_ROUTES:
        raise faults.bad(
            f"Unable to complete operation for {row.id}. The number of routes exceeds the maximum {MAX_ROUTES}.",
            "RoutesExhausted",
        )
    connected = [ipaddress.ip_network(s.cidr) for s in await interface_subnets(op, row.id)]
    if row.gw_port_id:
        for alloc in await fixed_ips.allocations(op, [row.gw_port_id]):
            subnet = await op.session.get(Subnet, alloc.subnet_id)
            if subnet is not None:
                connected.append(ipaddress.ip_network(subnet.cidr))
    for route in routes:
        hop = ipaddress.ip_address(route["nexthop"])
        if not any(hop.version == n.version and hop in n for n in connected):
            raise faults.bad(
                f"Invalid format for routes: {route}, the nexthop is not connected with router",
                "InvalidRoutes",
            )


async def path_to(op: Op, external_network_id: str, subnet_id: str) -> str | None:
    """The router that joins `subnet_id` to `external_network_id`, if one does."""
    found = await op.session.scalar(
        select(Router.id)
        .join(Port, (Port.device_id == Router.id) & (Port.device_owner == INTERFACE))
        .join(IPAllocation, IPAllocation.port_id == Port.id)
        .where(Router.gw_network_id == external_network_id, IPAllocation.subnet_id == subnet_id)
        .limit(1)
    )
    return str(found) if found is not None else None
