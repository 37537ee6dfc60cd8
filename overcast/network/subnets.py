"""Subnets: IPv4 and IPv6 (RA and address modes), CIDR or a prefix from a subnet pool,
gateway (or none), allocation pools, DHCP, DNS name servers, host routes, service types."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.network import attributes as a
from overcast.network import faults, ipam, networks, quotas, standard, subnetpools
from overcast.network.kinds import Kind, Op, network_owner
from overcast.network.models import IPAllocation, Network, Port, Subnet

V6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")
AUTO_ADDRESS = ("slaac", "dhcpv6-stateless")
MAX_DNS = 5
MAX_ROUTES = 20

_pool = a.dict_of({"start": a.ip_address, "end": a.ip_address})
_route = a.dict_of({"destination": a.cidr, "nexthop": a.ip_address})


class Subnets(Kind):
    name = "subnet"
    collection = "subnets"
    path = "subnets"
    model = Subnet
    attrs = a.standard(
        name=a.name_attr(),
        network_id=a.Attr(convert=a.uuid_, default=a.MISSING),
        segment_id=a.Attr(convert=a.uuid_or_none, put=True),
        ip_version=a.Attr(convert=a.integer(), default=a.MISSING),
        cidr=a.Attr(convert=a.cidr),
        prefixlen=a.Attr(convert=a.integer(0, 128), filter=False, sort=False),
        subnetpool_id=a.Attr(convert=a.uuid_or_none),
        use_default_subnetpool=a.Attr(convert=a.boolean, filter=False, sort=False),
        gateway_ip=a.Attr(convert=a.ip_or_none, put=True),
        enable_dhcp=a.Attr(convert=a.boolean, put=True, default=True),
        ipv6_ra_mode=a.Attr(convert=a.one_of(*V6_MODES, nullable=True)),
        ipv6_address_mode=a.Attr(convert=a.one_of(*V6_MODES, nullable=True)),
        allocation_pools=a.Attr(convert=a.list_of(_pool), put=True, filter=False, sort=False),
        dns_nameservers=a.Attr(
            convert=a.list_of(a.ip_address), put=True, default=list, filter=False, sort=False
        ),
        host_routes=a.Attr(
            convert=a.list_of(_route), put=True, default=list, filter=False, sort=False
        ),
        service_types=a.Attr(
            convert=a.list_of(a.string(255)), put=True, default=list, filter=False, sort=False
        ),
        dns_publish_fixed_ip=a.Attr(convert=a.boolean, put=True, default=False),
        # `subnet-external-network`: whether the subnet's network is external (read-only).
        **{"router:external": a.Attr(post=False, sort=False)},
    )

    def visible(self, ctx: RequestContext) -> ColumnElement[bool] | None:
        clause = networks.network_visible(ctx)
        if clause is None:
            return None
        return or_(
            Subnet.project_id == (ctx.project_id or ""),
            Subnet.network_id.in_(select(Network.id).where(clause)),
        )

    def target(self, view: dict[str, Any]) -> dict[str, Any]:
        return {
            "project_id": view.get("project_id", ""),
            "tenant_id": view.get("project_id", ""),
            "network_project_id": view.get("network_project_id", ""),
        }

    async def target_of(self, op: Op, row: Any, view: dict[str, Any]) -> dict[str, Any]:
        return {**self.target(view), "network_project_id": await network_owner(op, row.network_id)}

    async def create_target(self, op: Op, values: dict[str, Any]) -> dict[str, Any]:
        net = await networks.network_for(op, values["network_id"])
        project = values.get("project_id") or op.ctx.project_id or ""
        return {"project_id": project, "network_project_id": net.project_id}

    def filter_clause(self, op: Op, key: str, values: list[str]) -> ColumnElement[bool] | None:
        if key != "router:external":
            return None
        try:
            wanted = [a.boolean(v) for v in values]
        except errors.BadRequest as exc:
            raise a.invalid(key, exc.message) from exc
        return Subnet.network_id.in_(select(Network.id).where(Network.external.in_(wanted)))

    async def views(self, op: Op, rows: Sequence[Subnet]) -> list[dict[str, Any]]:
        tags = await standard.tags_of(op.session, [r.id for r in rows])
        nets = {r.network_id for r in rows}
        external = (
            set(
                await op.session.scalars(
                    select(Network.id).where(Network.id.in_(nets), Network.external)
                )
            )
            if nets
            else set()
        )
        return [view(r, tags.get(r.id), r.network_id in external) for r in rows]

    async def create(self, op: Op, values: dict[str, Any]) -> Subnet:
        net = await networks.network_for(op, values["network_id"])
        project = values.get("project_id") or op.ctx.project_id or ""
        await quotas.check(op.session, op.st.settings.network.default_quotas, "subnet", project)
        version = values["ip_version"]
        if version not in (4, 6):
            raise faults.bad(
                f"Invalid input for ip_version. Reason: '{version}' is not in [4, 6].",
                "HTTPBadRequest",
            )
        pool_id = values.get("subnetpool_id")
        if values.get("use_default_subnetpool") and not pool_id:
            pool_id = await subnetpools.default_pool(op, version)
        if values.get("cidr") is None and pool_id is None:
            raise faults.bad(
                "Bad subnets request: a cidr must be specified in the absence of a subnet pool.",
                "BadRequest",
            )
        existing = list(
            (await op.session.execute(select(Subnet).where(Subnet.network_id == net.id))).scalars()
        )
        if pool_id is not None:
            pool = await subnetpools.pool_for(op, pool_id)
            if pool.ip_version != version:
                raise faults.bad(
                    f"Bad subnets request: cannot allocate IPv{version} subnet from IPv{pool.ip_version} subnet pool.",
                    "BadRequest",
                )
            cidr = await subnetpools.carve(op, pool, values.get("cidr"), values.get("prefixlen"))
        else:
            cidr = values["cidr"]
        net_addr = ipam.network(cidr)
        if net_addr.version != version:
            raise faults.bad(
                f"Invalid input for operation: cidr '{cidr}' does not match the ip_version '{version}'.",
                "InvalidInput",
            )
        for other in existing:
            if ipam.overlaps(other.cidr, cidr):
                raise faults.bad(
                    f"Invalid input for operation: Requested subnet with cidr: {cidr} for network: {net.id} overlaps with another subnet.",
                    "InvalidInput",
                )
        _check_v6_modes(version, values.get("ipv6_ra_mode"), values.get("ipv6_address_mode"))
        gateway = values["gateway_ip"] if "gateway_ip" in values else ipam.default_gateway(net_addr)
        ipam.check_gateway(net_addr, gateway)
        pools = values.get("allocation_pools")
        if pools:
            ipam.check_pools(net_addr, gateway, pools)
        else:
            pools = ipam.default_pools(net_addr, gateway)
        _check_lists(net_addr, values)
        row = Subnet(
            project_id=project,
            name=values["name"],
            description=values["description"],
            network_id=net.id,
            segment_id=values.get("segment_id"),
            ip_version=version,
            cidr=cidr,
            gateway_ip=gateway,
            enable_dhcp=values["enable_dhcp"],
            ipv6_ra_mode=values.get("ipv6_ra_mode"),
            ipv6_address_mode=values.get("ipv6_address_mode"),
            subnetpool_id=pool_id,
            allocation_pools=pools,
            dns_nameservers=values["dns_nameservers"],
            host_routes=values["host_routes"],
            service_types=values["service_types"],
            dns_publish_fixed_ip=values["dns_publish_fixed_ip"],
        )
        op.session.add(row)
        standard.bump(net)
        await op.session.flush()
        return row

    async def update(self, op: Op, row: Subnet, values: dict[str, Any]) -> Subnet:
        net_addr = ipam.network(row.cidr)
        gateway = values.get("gateway_ip", row.gateway_ip)
        if "gateway_ip" in values and gateway is not None:
            ipam.check_gateway(net_addr, gateway)
            holder = await op.session.get(IPAllocation, (row.network_id, gateway))
            if holder is not None and gateway != row.gateway_ip:
                raise faults.conflict(
                    f"Gateway ip {gateway} conflicts with an allocated IP address.",
                    "GatewayIpInUse",
                )
        pools = values.get("allocation_pools", row.allocation_pools)
        if "allocation_pools" in values or "gateway_ip" in values:
            if "allocation_pools" in values:
                ipam.check_pools(net_addr, gateway, pools)
            elif gateway is not None and ipam.in_pools(gateway, pools):
                raise ipam.errors_conflict_gateway(
                    gateway, next(p for p in pools if ipam.in_pools(gateway, [p]))
                )
        _check_lists(net_addr, values)
        for key in (
            "name",
            "description",
            "gateway_ip",
            "enable_dhcp",
            "allocation_pools",
            "dns_nameservers",
            "host_routes",
            "service_types",
            "dns_publish_fixed_ip",
            "segment_id",
        ):
            if key in values:
                setattr(row, key, values[key])
        return row

    async def delete(self, op: Op, row: Subnet) -> None:
        busy = await op.session.scalar(
            select(func.count())
            .select_from(IPAllocation)
            .join(Port, Port.id == IPAllocation.port_id)
            .where(IPAllocation.subnet_id == row.id, Port.device_owner != "network:dhcp")
        )
        if busy:
            raise faults.in_use("subnet", row.id)
        net = await op.session.get(Network, row.network_id)
        if net is not None:
            standard.bump(net)
        await op.session.delete(row)


def view(row: Subnet, tags: list[str] | None, external: bool) -> dict[str, Any]:
    body = standard.fields(row, tags)
    body.update(
        {
            "name": row.name,
            "network_id": row.network_id,
            "segment_id": row.segment_id,
            "ip_version": row.ip_version,
            "cidr": row.cidr,
            "gateway_ip": row.gateway_ip,
            "enable_dhcp": row.enable_dhcp,
            "ipv6_ra_mode": row.ipv6_ra_mode,
            "ipv6_address_mode": row.ipv6_address_mode,
            "subnetpool_id": row.subnetpool_id,
            "allocation_pools": list(row.allocation_pools or []),
            "dns_nameservers": list(row.dns_nameservers or []),
            "host_routes": list(row.host_routes or []),
            "service_types": list(row.service_types or []),
            "dns_publish_fixed_ip": row.dns_publish_fixed_ip,
            "router:external": external,
        }
    )
    return body


def _check_v6_modes(version: int, ra: str | None, addr: str | None) -> None:
    if version == 4 and (ra or addr):
        raise faults.bad(
            "Invalid input for operation: ipv6_ra_mode and ipv6_address_mode are only for IPv6 subnets.",
            "InvalidInput",
        )
    if ra and addr and ra != addr:
        raise faults.bad(
            f"Invalid input for operation: ipv6_ra_mode set to '{ra}' with ipv6_address_mode set to '{addr}' is not valid. If both attributes are set, they must be the same value.",
            "InvalidInput",
        )


def _check_lists(net: ipam.Net, values: dict[str, Any]) -> None:
    servers = values.get("dns_nameservers") or []
    if len(servers) > MAX_DNS:
        raise faults.bad(
            f"Number of DNS nameservers exceeds the limit {MAX_DNS}.", "DNSNameServersExhausted"
        )
    routes = values.get("host_routes") or []
    if len(routes) > MAX_ROUTES:
        raise faults.bad(
            f"Unable to complete operation for subnet. The number of host routes exceeds the limit {MAX_ROUTES}.",
            "HostRoutesExhausted",
        )
    for route in routes:
        if (
            ipaddress.ip_address(route["nexthop"]).version != net.version
            or ipam.network(route["destination"]).version != net.version
        ):
            raise faults.bad(
                f"Invalid input for operation: host route {route} does not match the subnet's IP version.",
                "InvalidInput",
            )


def auto_address(subnet: Subnet) -> bool:
    return subnet.ip_version == 6 and subnet.ipv6_address_mode in AUTO_ADDRESS
