"""The desired state of one host, read from the database: the ports bound there (and wired,
i.e. not failed), their networks and security groups, and the routers an L3 host runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.network import bindings, drivers
from overcast.network.models import (
    Agent,
    FloatingIP,
    IPAllocation,
    Network,
    Port,
    PortForwarding,
    PortSecurityGroup,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    Segment,
    Subnet,
)

DHCP = "network:dhcp"
ROUTER_INTERFACE = "network:router_interface"
L3_AGENT = "L3 agent"  # the agent type the network agent reports for an L3 host


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), 500):
        yield ids[start : start + 500]


async def _networks(session: AsyncSession, ids: list[str]) -> list[drivers.Network]:
    out = []
    for chunk in _chunks(ids):
        nets = list((await session.execute(select(Network).where(Network.id.in_(chunk)))).scalars())
        segs = list(
            (
                await session.execute(
                    select(Segment)
                    .where(Segment.network_id.in_(chunk))
                    .order_by(Segment.segment_index)
                )
            ).scalars()
        )
        subs = list(
            (await session.execute(select(Subnet).where(Subnet.network_id.in_(chunk)))).scalars()
        )
        for net in nets:
            out.append(
                drivers.Network(
                    id=net.id,
                    mtu=net.mtu,
                    admin_state_up=net.admin_state_up,
                    external=net.external,
                    segments=tuple(
                        drivers.Segment(s.network_type, s.physical_network, s.segmentation_id)
                        for s in segs
                        if s.network_id == net.id
                    ),
                    subnets=tuple(
                        drivers.Subnet(
                            id=s.id,
                            cidr=s.cidr,
                            ip_version=s.ip_version,
                            gateway_ip=s.gateway_ip,
                            enable_dhcp=s.enable_dhcp,
                            dns_nameservers=tuple(s.dns_nameservers or ()),
                            host_routes=tuple(
                                (r["destination"], r["nexthop"]) for r in s.host_routes or ()
                            ),
                            ipv6_ra_mode=s.ipv6_ra_mode,
                            ipv6_address_mode=s.ipv6_address_mode,
                        )
                        for s in subs
                        if s.network_id == net.id
                    ),
                )
            )
    return out


async def with_peers(
    session: AsyncSession, host: str, networks: list[drivers.Network]
) -> list[drivers.Network]:
    """The networks with, for VXLAN ones, the (MAC, tunnel address) of their ports on other
    hosts whose L2 agents report a tunnel address (l2population's flooding entries). Router
    interfaces are bound to no host: they are where the L3 agents run."""
    vxlan = [n.id for n in networks if any(s.network_type == "vxlan" for s in n.segments)]
    if not vxlan:
        return networks
    tunnels: dict[str, str] = {}
    routing: list[str] = []  # hosts with a tunnel address whose agents run routers
    for agent_host, agent_type, config in await session.execute(
        select(Agent.host, Agent.agent_type, Agent.configurations).where(Agent.host != host)
    ):
        if (config or {}).get("tunneling_ip"):
            tunnels[agent_host] = config["tunneling_ip"]
        if agent_type == L3_AGENT:
            routing.append(agent_host)
    routing = sorted(set(routing) & set(tunnels))
    peers: dict[str, list[tuple[str, str]]] = {}
    for chunk in _chunks(vxlan):
        rows = await session.execute(
            select(Port.network_id, Port.mac_address, Port.host, Port.device_owner).where(
                Port.network_id.in_(chunk),
                Port.host.in_(sorted(tunnels)) | (Port.device_owner == ROUTER_INTERFACE),
            )
        )
        for network_id, mac, port_host, owner in rows:
            hosts = [port_host] if port_host in tunnels else []
            if owner == ROUTER_INTERFACE and not port_host:
                hosts = routing
            peers.setdefault(network_id, []).extend((mac, tunnels[h]) for h in hosts)
    return [dataclasses.replace(n, peers=tuple(sorted(peers.get(n.id, [])))) for n in networks]


async def _addresses(session: AsyncSession, port_ids: list[str]) -> dict[str, list[IPAllocation]]:
    found: dict[str, list[IPAllocation]] = {}
    for chunk in _chunks(port_ids):
        for alloc in (
            await session.execute(select(IPAllocation).where(IPAllocation.port_id.in_(chunk)))
        ).scalars():
            found.setdefault(alloc.port_id, []).append(alloc)
    return found


async def _groups(session: AsyncSession, port_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for chunk in _chunks(port_ids):
        for link in (
            await session.execute(
                select(PortSecurityGroup).where(PortSecurityGroup.port_id.in_(chunk))
            )
        ).scalars():
            found.setdefault(link.port_id, []).append(link.security_group_id)
    return found


async def groups_here(session: AsyncSession, host: str, ids: list[str]) -> list[str]:
    """Those of `ids` that filter a port bound to `host`, or that a rule of such a port's
    groups names as remote: the only ones whose changes concern the host."""
    # From the host's ports (by their host index), not from the groups' members: the
    # default group's members grow with every port of its project.
    used = (
        select(PortSecurityGroup.security_group_id)
        .where(PortSecurityGroup.port_id.in_(select(Port.id).where(Port.host == host)))
        .distinct()
    )
    found: set[str] = set()
    for chunk in _chunks(ids):
        found.update(
            await session.scalars(used.where(PortSecurityGroup.security_group_id.in_(chunk)))
        )
        found.update(
            await session.scalars(
                select(SecurityGroupRule.remote_group_id).where(
                    SecurityGroupRule.remote_group_id.in_(chunk),
                    SecurityGroupRule.security_group_id.in_(used),
                )
            )
        )
    return sorted(g for g in found if g)


async def with_remotes(session: AsyncSession, ids: list[str]) -> list[str]:
    """`ids` and the groups their rules name as remote (whose members the rules need)."""
    found = set(ids)
    for chunk in _chunks(ids):
        found.update(
            await session.scalars(
                select(SecurityGroupRule.remote_group_id).where(
                    SecurityGroupRule.security_group_id.in_(chunk),
                    SecurityGroupRule.remote_group_id.is_not(None),
                )
            )
        )
    return sorted(g for g in found if g)


async def security_groups(session: AsyncSession, ids: list[str]) -> list[drivers.SecurityGroup]:
    """The groups `ids` with their rules and members (callers add the remote groups)."""
    out = []
    for chunk in _chunks(ids):
        groups = list(
            (
                await session.execute(select(SecurityGroup).where(SecurityGroup.id.in_(chunk)))
            ).scalars()
        )
        rules = list(
            (
                await session.execute(
                    select(SecurityGroupRule).where(SecurityGroupRule.security_group_id.in_(chunk))
                )
            ).scalars()
        )
        members = await session.execute(
            select(PortSecurityGroup.security_group_id, IPAllocation.ip_address)
            .join(IPAllocation, IPAllocation.port_id == PortSecurityGroup.port_id)
            .where(PortSecurityGroup.security_group_id.in_(chunk))
        )
        ips: dict[str, list[str]] = {}
        for group_id, address in members:
            ips.setdefault(group_id, []).append(address)
        # A member's allowed address pairs are its addresses too, as in Neutron.
        pairs = await session.execute(
            select(PortSecurityGroup.security_group_id, Port.allowed_address_pairs)
            .join(Port, Port.id == PortSecurityGroup.port_id)
            .where(PortSecurityGroup.security_group_id.in_(chunk))
        )
        for group_id, allowed in pairs:
            ips.setdefault(group_id, []).extend(p["ip_address"] for p in allowed or ())
        for group in groups:
            out.append(
                drivers.SecurityGroup(
                    id=group.id,
                    stateful=group.stateful,
                    rules=tuple(
                        drivers.Rule(
                            r.direction,
                            r.ethertype,
                            r.protocol,
                            r.port_range_min,
                            r.port_range_max,
                            r.remote_ip_prefix,
                            r.remote_group_id,
                        )
                        for r in rules
                        if r.security_group_id == group.id
                    ),
                    member_ips=tuple(sorted(ips.get(group.id, []))),
                )
            )
    return out


def port_state(port: Port, allocs: list[IPAllocation], groups: list[str]) -> drivers.Port:
    return drivers.Port(
        id=port.id,
        network_id=port.network_id,
        mac_address=port.mac_address,
        fixed_ips=tuple((a.subnet_id, a.ip_address) for a in allocs),
        admin_state_up=port.admin_state_up,
        device_owner=port.device_owner,
        device_id=port.device_id,
        vif_type=port.vif_type,
        vif_details=dict(port.vif_details or {}),
        port_security=port.port_security_enabled,
        security_groups=tuple(sorted(groups)),
        allowed_address_pairs=tuple(
            (p["ip_address"], p.get("mac_address", port.mac_address))
            for p in port.allowed_address_pairs or ()
        ),
        extra_dhcp_opts=tuple(
            (o["opt_name"], o.get("opt_value")) for o in port.extra_dhcp_opts or ()
        ),
        dns_name=port.dns_name or "",
    )


async def some_ports(session: AsyncSession, port_ids: list[str], host: str) -> drivers.Batch:
    """The wiring of those of `port_ids` bound to `host` (with their networks, their groups
    and those the groups' rules name as remote), and the ids of the others (gone, moved or
    failed), read at once for all of them."""
    rows = []
    for chunk in _chunks(port_ids):
        rows += list((await session.execute(select(Port).where(Port.id.in_(chunk)))).scalars())
    here = [
        p for p in rows if p.host == host and p.vif_type not in (bindings.UNBOUND, bindings.FAILED)
    ]
    ids = [p.id for p in here]
    allocs, groups = await _addresses(session, ids), await _groups(session, ids)
    nets = {n.id: n for n in await _networks(session, sorted({p.network_id for p in here}))}
    wanted = await with_remotes(session, sorted({g for gs in groups.values() for g in gs}))
    return drivers.Batch(
        ports=tuple(
            (port_state(p, allocs.get(p.id, []), groups.get(p.id, [])), nets[p.network_id])
            for p in here
        ),
        security_groups=tuple(await security_groups(session, wanted)),
        gone=tuple(sorted(set(port_ids) - set(ids))),
    )


async def host_state(session: AsyncSession, host: str, l3: bool) -> drivers.HostState:
    ports = list(
        (
            await session.execute(
                select(Port).where(
                    Port.host == host, Port.vif_type.not_in((bindings.UNBOUND, bindings.FAILED))
                )
            )
        ).scalars()
    )
    ids = [p.id for p in ports]
    allocs = await _addresses(session, ids)
    groups = await _groups(session, ids)
    group_ids = await with_remotes(session, sorted({g for gs in groups.values() for g in gs}))
    routers = await _routers(session) if l3 else []
    network_ids = sorted(
        {p.network_id for p in ports}
        | {i[1] for r in routers for i in r.interfaces}
        | {r.gateway[0] for r in routers if r.gateway}
    )
    return drivers.HostState(
        host=host,
        networks=tuple(await with_peers(session, host, await _networks(session, network_ids))),
        ports=tuple(port_state(p, allocs.get(p.id, []), groups.get(p.id, [])) for p in ports),
        security_groups=tuple(await security_groups(session, group_ids)),
        routers=tuple(routers),
        dhcp_clients=tuple(
            await network_ports(session, [p.network_id for p in ports if p.device_owner == DHCP])
        ),
    )


async def network_ports(session: AsyncSession, network_ids: list[str]) -> list[drivers.Port]:
    """Every port of these networks, on any host (DHCP host entries)."""
    found: list[Port] = []
    for chunk in _chunks(sorted(set(network_ids))):
        found += (await session.execute(select(Port).where(Port.network_id.in_(chunk)))).scalars()
    allocs = await _addresses(session, [p.id for p in found])
    return [port_state(p, allocs.get(p.id, []), []) for p in found]


async def _routers(session: AsyncSession) -> list[drivers.Router]:
    routers = list((await session.execute(select(Router))).scalars())
    out = []
    for router in routers:
        owned = list(
            (await session.execute(select(Port).where(Port.device_id == router.id))).scalars()
        )
        allocs = await _addresses(session, [p.id for p in owned])
        prefixes = {
            s.id: s
            for s in (
                await session.execute(
                    select(Subnet).where(
                        Subnet.id.in_([a.subnet_id for al in allocs.values() for a in al])
                    )
                )
            ).scalars()
        }

        def with_prefix(alloc: IPAllocation, prefixes: dict[str, Subnet] = prefixes) -> str:
            return f"{alloc.ip_address}/{prefixes[alloc.subnet_id].cidr.split('/')[1]}"

        gateway = gateway_port = None
        interfaces = []
        for port in owned:
            mine = allocs.get(port.id, [])
            if port.id == router.gw_port_id and mine:
                gateway = (
                    port.network_id,
                    with_prefix(mine[0]),
                    prefixes[mine[0].subnet_id].gateway_ip or "",
                )
                gateway_port = (port.id, port.mac_address)
            elif port.device_owner == "network:router_interface":
                interfaces.extend(
                    (port.id, port.network_id, with_prefix(a), port.mac_address) for a in mine
                )
        fips = list(
            (
                await session.execute(select(FloatingIP).where(FloatingIP.router_id == router.id))
            ).scalars()
        )
        forwards = []
        for fip in fips:
            for pf in (
                await session.execute(
                    select(PortForwarding).where(PortForwarding.floatingip_id == fip.id)
                )
            ).scalars():
                forwards.append(
                    drivers.PortForward(
                        fip.floating_ip_address,
                        pf.external_port,
                        pf.internal_ip_address,
                        pf.internal_port,
                        pf.protocol,
                    )
                )
        out.append(
            drivers.Router(
                id=router.id,
                admin_state_up=router.admin_state_up,
                gateway=gateway,
                enable_snat=router.enable_snat,
                interfaces=tuple(interfaces),
                routes=tuple((r["destination"], r["nexthop"]) for r in router.routes or ()),
                floating_ips=tuple(
                    drivers.FloatingIP(
                        f.id, f.floating_ip_address, f.fixed_ip_address or "", f.port_id or ""
                    )
                    for f in fips
                    if f.port_id
                ),
                forwards=tuple(forwards),
                gateway_port=gateway_port,
            )
        )
    return out
