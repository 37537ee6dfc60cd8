"""IPAM: allocation pools and the addresses handed to ports.

Pure functions check pools and gateways; `allocate` picks a free address and writes its
`IPAllocation` row, whose key (network, address) lets the database refuse a second holder.
A lost race surfaces as an IntegrityError at flush; the caller's transaction retry then sees
the address taken and picks another. The network address, the IPv4 broadcast address and the
gateway are never in a pool, so never handed out.
"""

from __future__ import annotations

import ipaddress
import random
from array import array
from collections import OrderedDict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common.db.inserts import insert_new
from overcast.network import faults
from overcast.network.models import IPAllocation, Subnet

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
Range = tuple[int, int]


def network(cidr: str) -> Net:
    return ipaddress.ip_network(cidr)


def host_bounds(net: Net) -> Range:
    """The first and last address a port may hold in `net`."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if net.version == 4:
        if net.prefixlen >= 31:
            return first, last
        return first + 1, last - 1
    return first + 1, last


def default_gateway(net: Net) -> str:
    low, _high = host_bounds(net)
    return str(ipaddress.ip_address(low))


def default_pools(net: Net, gateway: str | None) -> list[dict[str, str]]:
    low, high = host_bounds(net)
    ranges: list[Range] = [(low, high)]
    if gateway is not None:
        gw = int(ipaddress.ip_address(gateway))
        if low <= gw <= high:
            ranges = [(a, b) for a, b in ((low, gw - 1), (gw + 1, high)) if a <= b]
    return [_pool(net, a, b) for a, b in ranges]


def _pool(net: Net, low: int, high: int) -> dict[str, str]:
    cls = ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
    return {"start": str(cls(low)), "end": str(cls(high))}


def ranges_of(pools: Sequence[dict[str, str]]) -> list[Range]:
    return sorted(
        (int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"]))) for p in pools
    )


def check_gateway(net: Net, gateway: str | None) -> None:
    if gateway is None:
        return
    ip = ipaddress.ip_address(gateway)
    if ip.version != net.version or ip not in net:
        raise faults.bad(
            f"Invalid input for operation: Gateway IP {gateway} is outside of subnet {net}.",
            "InvalidInput",
        )
    if (
        net.version == 4
        and net.prefixlen < 31
        and ip in (net.network_address, net.broadcast_address)
    ):
        raise faults.bad(
            f"Invalid input for operation: Gateway is not valid on subnet {net}.", "InvalidInput"
        )


def check_pools(net: Net, gateway: str | None, pools: Sequence[dict[str, str]]) -> None:
    """Pools inside the subnet's host range, each start <= end, none overlapping, gateway
    outside every pool (the statuses and types Neutron answers)."""
    low, high = host_bounds(net)
    spans = []
    for pool in pools:
        start, end = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
        if start.version != net.version or end.version != net.version:
            raise faults.bad(
                f"Invalid input for operation: The allocation pool {pool['start']}-{pool['end']} spans beyond the subnet cidr {net}.",
                "OutOfBoundsAllocationPool",
            )
        if int(start) > int(end):
            raise faults.bad(
                f"The allocation pool {pool['start']}-{pool['end']} is not valid.",
                "InvalidAllocationPool",
            )
        if int(start) < low or int(end) > high:
            raise faults.bad(
                f"The allocation pool {pool['start']}-{pool['end']} spans beyond the subnet cidr {net}.",
                "OutOfBoundsAllocationPool",
            )
        spans.append((int(start), int(end), pool))
    spans.sort(key=lambda s: s[0])
    for (_a, b, first), (c, _d, second) in zip(spans, spans[1:], strict=False):
        if c <= b:
            raise faults.bad(
                f"Found overlapping allocation pools: {first['start']}-{first['end']} and {second['start']}-{second['end']} for subnet {net}.",
                "OverlappingAllocationPools",
            )
    if gateway is not None:
        gw = int(ipaddress.ip_address(gateway))
        for a, b, pool in spans:
            if a <= gw <= b:
                raise errors_conflict_gateway(gateway, pool)


def errors_conflict_gateway(gateway: str, pool: dict[str, str]) -> Exception:
    return faults.conflict(
        f"Gateway ip {gateway} conflicts with allocation pool {pool['start']}-{pool['end']}.",
        "GatewayConflictWithAllocationPools",
    )


def in_pools(address: str, pools: Sequence[dict[str, str]]) -> bool:
    value = int(ipaddress.ip_address(address))
    return any(a <= value <= b for a, b in ranges_of(pools))


def pool_size(pools: Sequence[dict[str, str]]) -> int:
    return sum(b - a + 1 for a, b in ranges_of(pools))


def pick(ranges: list[Range], taken: set[int], rng: random.Random) -> int | None:
    """A free address: from a random point in the pools, the first one free (wrapping), so
    concurrent allocators on other nodes seldom collide. None when the pools are full."""
    total = sum(b - a + 1 for a, b in ranges)
    inside = sum(1 for t in taken if any(a <= t <= b for a, b in ranges))
    if total <= inside:
        return None
    offset = rng.randrange(total)
    for step in range(total):
        index = (offset + step) % total
        candidate = None
        for a, b in ranges:
            size = b - a + 1
            if index < size:
                candidate = a + index
                break
            index -= size
        if candidate is not None and candidate not in taken:
            return candidate
    return None


def eui64(cidr: str, mac: str) -> str:
    """The SLAAC address of `mac` in the IPv6 prefix `cidr` (modified EUI-64)."""
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    iid = octets[:3] + [0xFF, 0xFE] + octets[3:]
    value = int(network(cidr).network_address) | int.from_bytes(bytes(iid), "big")
    return str(ipaddress.IPv6Address(value))


async def taken(session: AsyncSession, subnet_id: str) -> set[int]:
    rows = await session.scalars(
        select(IPAllocation.ip_address).where(IPAllocation.subnet_id == subnet_id)
    )
    return {int(ipaddress.ip_address(r)) for r in rows}


_RNG = random.Random()


_PROBES = 8  # random addresses tried one by one before the pools are read whole
_LISTED = 1 << 16  # pools up to this size keep a list of their free addresses in memory
_LISTS_KEPT = 256  # subnets whose lists are kept (the least recently used go first)
_Key = tuple[str, tuple[Range, ...]]


def _at(ranges: Sequence[Range], index: int) -> int:
    for a, b in ranges:
        if index <= b - a:
            return a + index
        index -= b - a + 1
    raise IndexError(index)


class _FreeLists:
    """What this process believes free in each small subnet, in random order: a hint only.

    The (network, address) key still decides: an address another process or a rolled-back
    transaction took or gave back costs at most one insert that yields, and a list that runs
    dry is read again from the database, so nothing is lost for long. Keyed by the pools as
    well as the subnet, so a list never outlives a change of them. Each list holds offsets
    into the pools, two bytes each."""

    def __init__(self) -> None:
        self._lists: OrderedDict[_Key, array[int]] = OrderedDict()

    def get(self, key: _Key) -> array[int]:
        found = self._lists.get(key)
        if found is None:
            return array("H")
        self._lists.move_to_end(key)
        return found

    async def refill(self, session: AsyncSession, subnet: Subnet, key: _Key) -> array[int]:
        held = await taken(session, subnet.id)
        current = self._lists.get(key)
        if current:  # another allocation refilled it while this one read
            return current
        free = array("H")
        offset = 0
        for a, b in key[1]:
            free.extend(offset + v - a for v in range(a, b + 1) if v not in held)
            offset += b - a + 1
        _RNG.shuffle(free)
        self._lists[key] = free
        self._lists.move_to_end(key)
        while len(self._lists) > _LISTS_KEPT:
            self._lists.popitem(last=False)
        return free


_FREE = _FreeLists()


async def _insert(session: AsyncSession, subnet: Subnet, port_id: str, value: int) -> str | None:
    """Hold `value` for the port unless it is held; the address if it now is the port's."""
    address = str(ipaddress.ip_address(value))
    row = {"network_id": subnet.network_id, "ip_address": address, "subnet_id": subnet.id}
    return address if await insert_new(session, IPAllocation, {**row, "port_id": port_id}) else None


async def allocate(session: AsyncSession, subnet: Subnet, port_id: str) -> str | None:
    """Hold a free address of `subnet` for `port_id`; None when its pools are exhausted.

    Each try is one insert that yields to a held key. Pools of up to `_LISTED` addresses
    take them from their free list (read again, once per call, when it runs dry); larger
    ones try a few random addresses and are read whole only when those are all taken."""
    ranges = tuple(ranges_of(subnet.allocation_pools))
    total = sum(b - a + 1 for a, b in ranges)
    await session.flush()  # the port first: the address refers to it
    if total <= _LISTED:
        key = (subnet.id, ranges)
        free, refilled = _FREE.get(key), False
        while free or not refilled:
            if not free:
                free, refilled = await _FREE.refill(session, subnet, key), True
                continue
            address = await _insert(session, subnet, port_id, _at(ranges, free.pop()))
            if address is not None:
                return address
        return None
    for _ in range(_PROBES):
        address = await _insert(session, subnet, port_id, _at(ranges, _RNG.randrange(total)))
        if address is not None:
            return address
    value = pick(list(ranges), await taken(session, subnet.id), _RNG)
    if value is None:
        return None
    address = str(ipaddress.ip_address(value))
    session.add(
        IPAllocation(
            network_id=subnet.network_id, ip_address=address, subnet_id=subnet.id, port_id=port_id
        )
    )
    await session.flush()  # later look-ups in this transaction see it
    return address


async def hold(session: AsyncSession, subnet: Subnet, port_id: str, address: str) -> None:
    """Hold a chosen `address` of `subnet` (409 IpAddressAlreadyAllocated when it is held)."""
    found = await session.get(IPAllocation, (subnet.network_id, address))
    if found is not None:
        raise faults.conflict(
            f"IP address {address} already allocated in subnet {subnet.id}",
            "IpAddressAlreadyAllocated",
        )
    session.add(
        IPAllocation(
            network_id=subnet.network_id, ip_address=address, subnet_id=subnet.id, port_id=port_id
        )
    )


def in_subnet(address: str, cidr: str) -> bool:
    ip = ipaddress.ip_address(address)
    net = network(cidr)
    return ip.version == net.version and ip in net


def overlaps(first: str, second: str) -> bool:
    a, b = network(first), network(second)
    return a.version == b.version and a.overlaps(b)  # type: ignore[arg-type]
