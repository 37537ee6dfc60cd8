"""The scheduler's bus endpoint (`volume-scheduler`): place a new volume on a pool.

It reads the volume and its type, filters the live pools, weighs those that pass, records
the chosen pool as the volume's `host` and casts the create to that back end's agent. When no
pool passes, the volume ends in `error` with the message Cinder gives (no valid back end) and
its quota returned. Placements in one scheduler run one at a time, so each sees the capacity
the previous one allocated.
"""

from __future__ import annotations

import asyncio
from typing import Any

from overcast.common import log
from overcast.common.bus import Bus
from overcast.common.config import Settings
from overcast.common.db.base import utcnow
from overcast.common.db.session import Database
from overcast.volume import messages, outcomes, rpc
from overcast.volume.models.types import VolumeType
from overcast.volume.models.volumes import Snapshot, Volume
from overcast.volume.scheduler import filters, pools, weighers

LOG = log.get(__name__)


class Scheduler:
    def __init__(self, settings: Settings, db: Database, bus: Bus) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self._lock = asyncio.Lock()

    async def create_volume(self, ctx: dict[str, Any], volume_id: str) -> None:
        async with self._lock:
            chosen = await self._place(ctx, volume_id)
        if chosen is not None:
            await rpc.cast_agent(self.bus, chosen, "create_volume", ctx, volume_id=volume_id)

    async def _place(self, ctx: dict[str, Any], volume_id: str) -> str | None:
        settings = self.settings.volume
        async with self.db.session() as session:
            volume = await session.get(Volume, volume_id)
            if volume is None or volume.deleted or volume.status != "creating":
                return None  # deleted meanwhile, or a replayed message
            vtype = await session.get(VolumeType, volume.volume_type_id)
            request = filters.Request(
                size=volume.size,
                availability_zone=volume.availability_zone,
                extra_specs=dict(vtype.extra_specs) if vtype else {},
                backend=await _source_backend(session, volume),
                exclude=tuple(volume.attempted or ()),
            )
            candidates = filters.passing(
                await pools.live(session, settings.service_down_time), request
            )
            if not candidates:
                LOG.info("no back end for volume %s", volume_id)
                outcomes.volume_failed(
                    session,
                    volume,
                    action=messages.SCHEDULE,
                    detail=messages.NO_BACKEND,
                    ctx=ctx,
                    ttl=settings.message_ttl,
                )
                return None
            pool = weighers.best(candidates, request, settings)
            volume.host = pool.host
            volume.scheduled_at = utcnow()
            return pool.backend


async def _source_backend(session: Any, volume: Volume) -> str | None:
    """A volume made from a snapshot or another volume is made on its source's back end."""
    source_id = volume.source_volid
    if volume.snapshot_id:
        snap = await session.get(Snapshot, volume.snapshot_id)
        source_id = snap.volume_id if snap is not None else None
    if not source_id:
        return None
    source = await session.get(Volume, source_id)
    return source.backend if source is not None else None
