"""A port's fixed IPs: what was asked (an address, a subnet, or nothing) turned into held
addresses through IPAM, and changes of them on update (held first, released after)."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import bindparam, delete, select

from overcast.network import faults, ipam
from overcast.network.kinds import Op
from overcast.network.models import IPAllocation, Network, Port, Subnet
from overcast.network.subnets import auto_address

ROUTER_OWNERS = (
    "network:router_interface",
    "network:router_interface_distributed",
    "network:ha_router_replicated_interface",
)


# Statements a port create runs are built once (building one costs about what running it does).
_SUBNETS = (
    select(Subnet)
    .where(Subnet.network_id == bindparam("network_id"))
    .order_by(Subnet.created_at, Subnet.id)
)


async def subnets_of(op: Op, network_id: str) -> list[Subnet]:
    """The network's subnets, oldest first: those `networks.network_for` read with it, once
    (later calls read them again: the request may have changed them since)."""
    known: list[Subnet] | None = op.memo.pop(("subnets", network_id), None)
    if known is not None:
        return known
    rows = await op.session.execute(_SUBNETS, {"network_id": network_id})
    return list(rows.scalars())


def _exhausted(network_id: str) -> Exception:
    return faults.conflict(
        f"No more IP addresses available on network {network_id}.", "IpAddressGenerationFailure"
    )


async def assign(
    op: Op, port: Port, network: Network, requested: list[dict[str, Any]] | None
) -> list[tuple[str, str]]:
    """Hold the port's addresses; [(subnet_id, address)]. `requested` None means "any"."""
    subnets = await subnets_of(op, network.id)
    held: list[tuple[str, str]] = []
    if requested is None:
        v4 = [s for s in subnets if s.ip_version == 4 and not _service_only(s, port)]
        stateful6 = [
            s
            for s in subnets
            if s.ip_version == 6 and not auto_address(s) and not _service_only(s, port)
        ]
        for family in (v4, stateful6):
            if not family:
                continue
            for subnet in family:
                address = await ipam.allocate(op.session, subnet, port.id)
                if address is not None:
                    held.append((subnet.id, address))
                    break
            else:
                raise _exhausted(network.id)
        for subnet in subnets:
            if auto_address(subnet) and port.device_owner not in ROUTER_OWNERS:
                address = ipam.eui64(subnet.cidr, port.mac_address)
                await ipam.hold(op.session, subnet, port.id, address)
                held.append((subnet.id, address))
        return held
    limit = op.st.settings.network.max_fixed_ips_per_port
    if len(requested) > limit:
        raise faults.bad(
            f"Exceeded maximum amount of fixed ips per port ({limit}).", "InvalidInput"
        )
    by_id = {s.id: s for s in subnets}
    chosen = [
        (_subnet_for(network, by_id, subnets, item), item.get("ip_address")) for item in requested
    ]
    for subnet, address in chosen:  # the named addresses first: a free pick must not take one
        if address is not None:
            _check_chosen(subnet, address, port)
            await ipam.hold(op.session, subnet, port.id, address)
    for subnet, address in chosen:
        if address is None:
            if auto_address(subnet):
                address = ipam.eui64(subnet.cidr, port.mac_address)
                await ipam.hold(op.session, subnet, port.id, address)
            else:
                address = await ipam.allocate(op.session, subnet, port.id)
                if address is None:
                    raise _exhausted(network.id)
        held.append((subnet.id, address))
    return held


def _service_only(subnet: Subnet, port: Port) -> bool:
    types = subnet.service_types or []
    return bool(types) and port.device_owner not in types


def _subnet_for(
    network: Network, by_id: dict[str, Subnet], subnets: list[Subnet], item: dict[str, Any]
) -> Subnet:
    subnet_id = item.get("subnet_id")
    address = item.get("ip_address")
    if subnet_id is not None:
        subnet = by_id.get(subnet_id)
        if subnet is None:
            raise faults.bad(
                f"Invalid input for operation: Failed to create port on network {network.id}, because fixed_ips included invalid subnet {subnet_id}.",
                "InvalidInput",
            )
        if address is not None and not ipam.in_subnet(address, subnet.cidr):
            raise faults.bad(
                f"Invalid input for operation: IP address {address} is not a valid IP for the specified subnet.",
                "InvalidInput",
            )
        return subnet
    if address is None:
        raise faults.bad(
            "Invalid input for operation: fixed_ips needs a subnet_id or an ip_address.",
            "InvalidInput",
        )
    for subnet in subnets:
        if ipam.in_subnet(address, subnet.cidr):
            return subnet
    raise faults.bad(
        f"Invalid input for operation: IP address {address} is not a valid IP for any of the subnets on the specified network.",
        "InvalidInput",
    )


def _check_chosen(subnet: Subnet, address: str, port: Port) -> None:
    net = ipam.network(subnet.cidr)
    low, high = ipam.host_bounds(net)
    if not low <= int(ipaddress.ip_address(address)) <= high:
        raise faults.bad(
            f"Invalid input for operation: IP address {address} is not a valid IP for the specified subnet.",
            "InvalidInput",
        )
    if address == subnet.gateway_ip and port.device_owner not in ROUTER_OWNERS:
        raise faults.conflict(
            f"IP address {address} already allocated in subnet {subnet.id}",
            "IpAddressAlreadyAllocated",
        )


async def change(op: Op, port: Port, network: Network, requested: list[dict[str, Any]]) -> None:
    """Replace the port's fixed IPs with `requested`: addresses kept stay, new ones are held,
    the rest go back to their pools."""
    current = {(a.subnet_id, a.ip_address) for a in await allocations(op, [port.id])}
    keep = []
    fresh = []
    for item in requested:
        pair = (item.get("subnet_id"), item.get("ip_address"))
        match = next(
            (c for c in current if c[1] == pair[1] and (pair[0] is None or pair[0] == c[0])), None
        )
        if match is not None:
            keep.append(match)
        else:
            fresh.append(item)
    gone = current - set(keep)
    for _subnet_id, address in gone:
        await op.session.execute(
            delete(IPAllocation).where(
                IPAllocation.network_id == network.id, IPAllocation.ip_address == address
            )
        )
    await op.session.flush()
    if fresh:
        await assign(op, port, network, fresh)


async def allocations(op: Op, port_ids: list[str]) -> list[IPAllocation]:
    found: list[IPAllocation] = []
    for start in range(0, len(port_ids), 500):
        rows = await op.session.execute(
            select(IPAllocation).where(IPAllocation.port_id.in_(port_ids[start : start + 500]))
        )
        found.extend(rows.scalars())
    return found
