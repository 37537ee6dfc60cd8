"""Atomic resource claims on compute nodes.

A claim is one conditional UPDATE that adds the instance's resources to the node's counters
only if they still fit under the allocation ratios, plus an `Allocation` row naming the
consumer; zero rows updated means another boot won the race. `heal` recounts a node's counters
from its allocations, so a crash between the two can never leave the counters wrong for long.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, case, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common.db.base import holds_rows, synced, utcnow
from overcast.compute.models import hosts


def _claiming(target: Any, node: Any, v: Any, m: Any, d: Any) -> Any:
    """The claim's conditional UPDATE on `target` (the model for the ORM's statement, its table
    for a plain one) of values or bound parameters."""
    c = target if target is hosts.ComputeNode else target.c
    return (
        update(target)
        .where(
            c.hypervisor_hostname == node,
            c.vcpus_used + v <= c.vcpus * c.cpu_allocation_ratio,
            c.memory_mb_used + m
            <= (c.memory_mb - c.reserved_host_memory_mb) * c.ram_allocation_ratio,
            c.local_gb_used + d <= c.local_gb * c.disk_allocation_ratio,
        )
        .values(
            vcpus_used=c.vcpus_used + v,
            memory_mb_used=c.memory_mb_used + m,
            local_gb_used=c.local_gb_used + d,
            running_vms=c.running_vms + 1,
        )
    )


# The claim's two statements, built once, on the tables: a plain statement costs about half
# what the ORM's bulk-update and unit-of-work paths do.
_CLAIM = _claiming(
    hosts.ComputeNode.__table__,
    bindparam("b_node"),
    bindparam("b_vcpus"),
    bindparam("b_memory_mb"),
    bindparam("b_disk_gb"),
)
_ALLOCATE = insert(hosts.Allocation.__table__)


async def claim(
    session: AsyncSession,
    *,
    host: str,
    node: str,
    consumer_uuid: str,
    instance_uuid: str,
    resources: dict[str, int],
    project_id: str | None = None,
    user_id: str | None = None,
) -> bool:
    """Claim `resources` ({vcpus, memory_mb, disk_gb}) on `node`; False if they do not fit."""
    v, m, d = resources["vcpus"], resources["memory_mb"], resources["disk_gb"]
    if holds_rows(session, hosts.ComputeNode):  # the ORM's statement brings them up to date
        stmt = _claiming(hosts.ComputeNode, node, v, m, d)
        result = await session.execute(synced(session, stmt))
    else:
        params = {"b_node": node, "b_vcpus": v, "b_memory_mb": m, "b_disk_gb": d}
        result = await session.execute(_CLAIM, params)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    allocation = {
        "consumer_uuid": consumer_uuid,
        "instance_uuid": instance_uuid,
        "host": host,
        "node": node,
        "vcpus": v,
        "memory_mb": m,
        "disk_gb": d,
        "project_id": project_id,
        "user_id": user_id,
        "created_at": utcnow(),
    }
    await session.execute(_ALLOCATE, allocation)
    return True


async def release(session: AsyncSession, consumer_uuid: str, node: str | None = None) -> int:
    """Drop the consumer's allocations (on `node`, or everywhere). Idempotent."""
    a, n = hosts.Allocation, hosts.ComputeNode
    stmt = select(a).where(a.consumer_uuid == consumer_uuid)
    if node is not None:
        stmt = stmt.where(a.node == node)
    found = list((await session.execute(stmt)).scalars())
    for alloc in found:
        await session.execute(
            synced(
                session,
                update(n)
                .where(n.hypervisor_hostname == alloc.node)
                .values(
                    vcpus_used=_minus(n.vcpus_used, alloc.vcpus),
                    memory_mb_used=_minus(n.memory_mb_used, alloc.memory_mb),
                    local_gb_used=_minus(n.local_gb_used, alloc.disk_gb),
                    running_vms=_minus(n.running_vms, 1),
                ),
            )
        )
        await session.execute(delete(a).where(a.id == alloc.id))
    return len(found)


async def move(session: AsyncSession, consumer_uuid: str, new_consumer: str) -> None:
    """Hand the allocations of `consumer_uuid` to `new_consumer` (resize confirm/revert)."""
    a = hosts.Allocation
    await session.execute(
        update(a).where(a.consumer_uuid == consumer_uuid).values(consumer_uuid=new_consumer)
    )


async def usage(session: AsyncSession, nodes: list[str]) -> dict[str, tuple[int, int, int, int]]:
    """The sums of each node's allocations (vcpus, memory MB, disk GB, instances); a node
    with none is missing."""
    a = hosts.Allocation
    rows = await session.execute(
        select(
            a.node,
            func.coalesce(func.sum(a.vcpus), 0),
            func.coalesce(func.sum(a.memory_mb), 0),
            func.coalesce(func.sum(a.disk_gb), 0),
            func.count(func.distinct(a.instance_uuid)),
        )
        .where(a.node.in_(nodes))
        .group_by(a.node)
    )
    return {row[0]: (int(row[1]), int(row[2]), int(row[3]), int(row[4])) for row in rows}


async def heal(session: AsyncSession, node: str) -> None:
    """Set the node's counters to the sum of its allocations."""
    used = (await usage(session, [node])).get(node, (0, 0, 0, 0))
    n = hosts.ComputeNode
    await session.execute(
        update(n)
        .where(n.hypervisor_hostname == node)
        .values(
            vcpus_used=used[0], memory_mb_used=used[1], local_gb_used=used[2], running_vms=used[3]
        )
    )


def _minus(column: Any, amount: int) -> Any:
    """`column - amount`, never below zero (portable: no GREATEST in SQLite)."""
    return case((column > amount, column - amount), else_=0)
