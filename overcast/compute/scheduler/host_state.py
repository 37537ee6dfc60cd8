"""HostState: what the scheduler knows of one node while it decides, loaded from the database.

One query for the nodes and their compute services; the instances on each host only when the
request needs them (same/different host hints, server groups). Aggregates come from
`overcast.compute.aggregates.host_aggregates(session)` when that module exists.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common.db.base import utcnow
from overcast.compute.models import hosts, instances


@dataclass
class HostState:
    host: str
    node: str
    uuid: str
    vcpus: int
    vcpus_used: int
    memory_mb: int
    memory_mb_used: int
    local_gb: int
    local_gb_used: int
    cpu_allocation_ratio: float = 4.0
    ram_allocation_ratio: float = 1.0
    disk_allocation_ratio: float = 1.0
    reserved_host_memory_mb: int = 0
    hypervisor_type: str = "fake"
    hypervisor_version: int = 1000
    capabilities: dict[str, Any] = field(default_factory=dict)
    service_disabled: bool = False
    service_up: bool = True
    running_vms: int = 0
    availability_zone: str = "nova"
    aggregates: list[dict[str, Any]] = field(
        default_factory=list
    )  # {name, availability_zone, metadata}
    instance_uuids: set[str] = field(default_factory=set)
    updated_at: dt.datetime | None = None

    @property
    def free_vcpus(self) -> float:
        return self.vcpus * self.cpu_allocation_ratio - self.vcpus_used

    @property
    def free_ram_mb(self) -> float:
        return (self.memory_mb - self.reserved_host_memory_mb) * self.ram_allocation_ratio - (
            self.memory_mb_used
        )

    @property
    def free_disk_gb(self) -> float:
        return self.local_gb * self.disk_allocation_ratio - self.local_gb_used

    @property
    def shown_zone(self) -> str:
        """The zone Nova shows for a server on this host (several joined by commas, sorted), as
        `aggregates.host_availability_zone` reads it."""
        zones = sorted(
            {str(a["availability_zone"]) for a in self.aggregates if a.get("availability_zone")}
        )
        return ",".join(zones) if zones else self.availability_zone

    def consume(self, resources: dict[str, int], instance_uuid: str) -> None:
        """Account for an instance placed here during this request (multi-create)."""
        self.vcpus_used += resources["vcpus"]
        self.memory_mb_used += resources["memory_mb"]
        self.local_gb_used += resources["disk_gb"]
        self.running_vms += 1
        self.instance_uuids.add(instance_uuid)


# The node's columns a HostState takes (under its own name but for hypervisor_hostname: node).
_NODE_COLUMNS = (
    "host",
    "hypervisor_hostname",
    "uuid",
    "vcpus",
    "vcpus_used",
    "memory_mb",
    "memory_mb_used",
    "local_gb",
    "local_gb_used",
    "cpu_allocation_ratio",
    "ram_allocation_ratio",
    "disk_allocation_ratio",
    "reserved_host_memory_mb",
    "hypervisor_type",
    "hypervisor_version",
    "capabilities",
    "running_vms",
    "updated_at",
)


async def load(
    session: AsyncSession,
    *,
    service_down_time: float,
    default_zone: str,
    with_instances: bool = False,
) -> list[HostState]:
    """Every compute node with its service's state (columns, not ORM rows: a cloud may have
    thousands of nodes, and the scheduler reads them all)."""
    node, svc = hosts.ComputeNode, hosts.Service
    stmt = select(
        *(getattr(node, name) for name in _NODE_COLUMNS),
        svc.disabled,
        svc.forced_down,
        svc.last_seen_up,
    ).join(svc, and_(svc.host == node.host, svc.binary == "nova-compute"), isouter=True)
    now = utcnow()
    states: list[HostState] = []
    for row in (await session.execute(stmt)).all():
        values = dict(zip(_NODE_COLUMNS, row, strict=False))
        seen = row.last_seen_up
        up = (
            not row.forced_down
            and seen is not None
            and (now - seen).total_seconds() <= (service_down_time)
        )
        states.append(
            HostState(
                node=values.pop("hypervisor_hostname"),
                capabilities=dict(values.pop("capabilities") or {}),
                service_disabled=bool(row.disabled),
                service_up=up,
                availability_zone=default_zone,
                **values,
            )
        )
    await _add_aggregates(session, states, default_zone)
    if with_instances:
        await _add_instances(session, states)
    return states


async def _add_instances(session: AsyncSession, states: list[HostState]) -> None:
    by_host = {s.host: s for s in states}
    inst = instances.Instance
    rows = await session.execute(
        select(inst.uuid, inst.host).where(inst.deleted.is_(False), inst.host.is_not(None))
    )
    for uuid, host in rows.all():
        found = by_host.get(host) if host is not None else None
        if found is not None:
            found.instance_uuids.add(uuid)


async def _add_aggregates(
    session: AsyncSession, states: list[HostState], default_zone: str
) -> None:
    try:
        module = importlib.import_module("overcast.compute.aggregates")
    except ModuleNotFoundError:
        return
    lookup = getattr(module, "host_aggregates", None)
    if lookup is None:
        return
    by_host: dict[str, list[dict[str, Any]]] = await lookup(session)
    for state in states:
        state.aggregates = by_host.get(state.host, [])
        zones = [a["availability_zone"] for a in state.aggregates if a.get("availability_zone")]
        state.availability_zone = zones[0] if zones else default_zone
