"""Atomic resource claims on compute nodes.

A claim is one conditional UPDATE that adds the instance's resources to the node's counters
only if they still fit under the allocation ratios, plus an `Allocation` row naming the
consumer; zero rows updated means another boot won the race. `heal` recounts a node's counters
from its allocations, so a crash between the two can never leave the counters wrong for long.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common.db.base import synced
from overcast.compute.models import hosts


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
    n = hosts.ComputeNode
    v, m, d = resources["vcpus"], resources["memory_mb"], resources["disk_gb"]
    result = await session.execute(
        synced(
            session,
            update(n)
            .where(
                n.hypervisor_hostname == node,
                n.vcpus_used + v <= n.vcpus * n.cpu_allocation_ratio,
                n.memory_mb_used + m
                <= (n.memory_mb - n.reserved_host_memory_mb) * n.ram_allocation_ratio,
                n.local_gb_used + d <= n.local_gb * n.disk_allocation_ratio,
            )
            .values(
                vcpus_used=n.vcpus_used + v,
                memory_mb_used=n.memory_mb_used + m,
                local_gb_used=n.local_gb_used + d,
                running_vms=n.running_vms + 1,
            ),
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.add(
        hosts.Allocation(
            consumer_uuid=consumer_uuid,
            instance_uuid=instance_uuid,
            host=host,
            node=node,
            vcpus=v,
            memory_mb=m,
            disk_gb=d,
            project_id=project_id,
            user_id=user_id,
        )
    )
    await session.flush()
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
