"""The bus topics of block storage and the typed stubs the API and the scheduler cast with.

The scheduler serves `volume-scheduler`; each back end's agent serves `volume-agent` as server
`node@backend` (a volume's `host` without its `#pool`). Messages carry ids, never rows: the
receiver reads the database, so a message replayed after a crash does no harm.
"""

from __future__ import annotations

from typing import Any

from overcast.common.bus import Bus

SCHEDULER = "volume-scheduler"
AGENT = "volume-agent"


def agent(backend: str) -> str:
    return f"{AGENT}.{backend}"


async def schedule_create(bus: Bus, ctx: dict[str, Any], volume_id: str) -> None:
    await bus.cast(SCHEDULER, "create_volume", ctx, volume_id=volume_id)


async def schedule_migration(bus: Bus, ctx: dict[str, Any], volume_id: str) -> None:
    await bus.cast(SCHEDULER, "migrate_volume", ctx, volume_id=volume_id)


async def schedule_group(bus: Bus, ctx: dict[str, Any], group_id: str) -> None:
    await bus.cast(SCHEDULER, "create_group", ctx, group_id=group_id)


async def cast_agent(
    bus: Bus, backend: str, method: str, ctx: dict[str, Any], **kwargs: Any
) -> None:
    await bus.cast(agent(backend), method, ctx, **kwargs)


async def call_agent(
    bus: Bus, backend: str, method: str, ctx: dict[str, Any], **kwargs: Any
) -> Any:
    return await bus.call(agent(backend), method, ctx, **kwargs)
