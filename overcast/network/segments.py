"""Segmentation ids from the configured ranges (ML2's type drivers): flat, VLAN, VXLAN and
local segments. Every id in use has a row in `network_segment_allocation`, whose key makes a
second use impossible; a network's ids go back to the pool when its segments go."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.config import NetworkSettings
from overcast.network import faults
from overcast.network.models import Segment, SegmentAllocation

TYPES = ("flat", "vlan", "vxlan", "local", "geneve", "gre")
_OVERHEAD = {"vxlan": 50, "geneve": 50, "gre": 42}
MAX_ID = {"vlan": 4094, "vxlan": (1 << 24) - 1, "geneve": (1 << 24) - 1, "gre": (1 << 32) - 1}


@dataclass(frozen=True)
class Ranges:
    tenant_types: tuple[str, ...]
    flat: frozenset[str]
    vlan: dict[str, tuple[tuple[int, int], ...]]
    tunnel: tuple[tuple[int, int], ...]
    physnet_mtu: int

    @classmethod
    def of(cls, settings: NetworkSettings) -> Ranges:
        vlan: dict[str, list[tuple[int, int]]] = {}
        for entry in settings.network_vlan_ranges:
            physnet, *bounds = entry.split(":")
            vlan.setdefault(physnet, [])
            if bounds:
                low, high = int(bounds[0]), int(bounds[1])
                if not 1 <= low <= high <= MAX_ID["vlan"]:
                    raise ValueError(f"bad VLAN range {entry!r}")
                vlan[physnet].append((low, high))
        tunnel = []
        for entry in settings.vni_ranges:
            low, high = (int(x) for x in entry.split(":"))
            tunnel.append((low, high))
        return cls(
            tenant_types=tuple(settings.tenant_network_types),
            flat=frozenset(settings.flat_networks),
            vlan={k: tuple(v) for k, v in vlan.items()},
            tunnel=tuple(tunnel),
            physnet_mtu=settings.global_physnet_mtu,
        )

    def mtu(self, network_type: str) -> int:
        return self.physnet_mtu - _OVERHEAD.get(network_type, 0)

    def pools(self, network_type: str, physnet: str | None) -> tuple[tuple[int, int], ...]:
        if network_type == "vlan":
            return self.vlan.get(physnet or "", ())
        if network_type in ("vxlan", "geneve", "gre"):
            return self.tunnel
        return ()


def validate(ranges: Ranges, spec: dict[str, Any]) -> dict[str, Any]:
    """A provider segment spec checked against the configuration (400 when it cannot be)."""
    kind = spec.get("provider:network_type")
    physnet = spec.get("provider:physical_network")
    seg_id = spec.get("provider:segmentation_id")
    if kind is None:
        raise faults.bad("network_type required", "InvalidInput")
    if kind not in TYPES:
        raise faults.bad(
            f"Invalid input for operation: network_type value '{kind}' not supported.",
            "InvalidInput",
        )
    if kind == "flat":
        if not physnet:
            raise faults.bad(
                "Invalid input for operation: physical_network required for flat provider network.",
                "InvalidInput",
            )
        if "*" not in ranges.flat and physnet not in ranges.flat:
            raise faults.bad(
                f"Invalid input for operation: physical_network '{physnet}' unknown for flat provider network.",
                "InvalidInput",
            )
        if seg_id is not None:
            raise faults.bad(
                "Invalid input for operation: segmentation_id specified for flat provider network.",
                "InvalidInput",
            )
    elif kind == "vlan":
        if not physnet:
            raise faults.bad(
                "Invalid input for operation: physical_network required for VLAN provider network.",
                "InvalidInput",
            )
        if physnet not in ranges.vlan:
            raise faults.bad(
                f"Invalid input for operation: physical_network '{physnet}' unknown for VLAN provider network.",
                "InvalidInput",
            )
    elif kind == "local":
        if physnet or seg_id is not None:
            raise faults.bad(
                "Invalid input for operation: local networks take neither physical_network nor segmentation_id.",
                "InvalidInput",
            )
    elif physnet:
        raise faults.bad(
            f"Invalid input for operation: provider:physical_network specified for {kind.upper()} network.",
            "InvalidInput",
        )
    if seg_id is not None and not 1 <= seg_id <= MAX_ID.get(kind, 0):
        raise faults.bad(
            f"Invalid input for operation: segmentation_id out of range (1 through {MAX_ID.get(kind, 0)}).",
            "InvalidInput",
        )
    return {"network_type": kind, "physical_network": physnet, "segmentation_id": seg_id}


async def _used(session: AsyncSession, kind: str, physnet: str, seg_id: int) -> bool:
    found = await session.get(SegmentAllocation, (kind, physnet, seg_id))
    return found is not None


async def _first_free(
    session: AsyncSession, kind: str, physnet: str, pools: tuple[tuple[int, int], ...]
) -> int | None:
    for low, high in pools:
        used = await session.scalars(
            select(SegmentAllocation.segmentation_id)
            .where(
                SegmentAllocation.network_type == kind,
                SegmentAllocation.physical_network == physnet,
                SegmentAllocation.segmentation_id.between(low, high),
            )
            .order_by(SegmentAllocation.segmentation_id)
        )
        expect = low
        for value in used:
            if value != expect:
                break
            expect += 1
        if expect <= high:
            return expect
    return None


async def allocate(
    session: AsyncSession, ranges: Ranges, network_id: str, specs: list[dict[str, Any]]
) -> list[Segment]:
    """Segments for a new network: the given provider specs, or one self-service segment.

    A concurrent allocation of the same id fails at the row's key; the caller's transaction
    retry then finds it used and picks another (or answers 409 for a chosen id)."""
    if not specs:
        specs = [_tenant_spec(ranges)]
    made = []
    for index, spec in enumerate(specs):
        kind, physnet, seg_id = (
            spec["network_type"],
            spec["physical_network"],
            spec["segmentation_id"],
        )
        held = physnet or ""
        if kind == "flat":
            if await _used(session, kind, held, 0):
                raise faults.conflict(
                    f"Unable to create the flat network. Physical network {physnet} is in use.",
                    "FlatNetworkInUse",
                )
            seg_id_row: int | None = 0
        elif kind == "local":
            seg_id_row = None
        elif seg_id is not None:
            if await _used(session, kind, held, seg_id):
                if kind == "vlan":
                    raise faults.conflict(
                        f"Unable to create the network. The VLAN {seg_id} on physical network {physnet} is in use.",
                        "VlanIdInUse",
                    )
                raise faults.conflict(
                    f"Unable to create the network. The tunnel ID {seg_id} is in use.",
                    "TunnelIdInUse",
                )
            seg_id_row = seg_id
        else:
            seg_id = await _first_free(session, kind, held, ranges.pools(kind, physnet))
            if seg_id is None:
                raise errors.ServiceUnavailable(
                    "Unable to create the network. No tenant network is available for allocation.",
                    kind="NoNetworkAvailable",
                )
            seg_id_row = seg_id
        segment = Segment(
            network_id=network_id,
            network_type=kind,
            physical_network=physnet,
            segmentation_id=seg_id if kind not in ("flat", "local") else None,
            segment_index=index,
        )
        session.add(segment)
        await session.flush()
        if seg_id_row is not None:
            session.add(
                SegmentAllocation(
                    network_type=kind,
                    physical_network=held,
                    segmentation_id=seg_id_row,
                    segment_id=segment.id,
                )
            )
        made.append(segment)
    await session.flush()
    return made


def _tenant_spec(ranges: Ranges) -> dict[str, Any]:
    if not ranges.tenant_types:
        raise errors.ServiceUnavailable(
            "Unable to create the network. No tenant network is available for allocation.",
            kind="NoNetworkAvailable",
        )
    kind = ranges.tenant_types[0]
    physnet = None
    if kind == "vlan":
        physnet = next((p for p, r in ranges.vlan.items() if r), None)
    return {"network_type": kind, "physical_network": physnet, "segmentation_id": None}
