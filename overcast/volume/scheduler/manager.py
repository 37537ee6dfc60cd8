"""The scheduler's bus endpoint (`volume-scheduler`): place new volumes on pools.

For each volume it reads the volume and its type, filters the live pools, weighs those that
pass, records the chosen pool as the volume's `host` and casts the create to that back end's
agent. When no pool passes, the volume ends in `error` with the message Cinder gives (no valid
back end) and its quota returned.

Requests that arrive while a placement is running are placed together in the next pass: one
read of the pools, placements one after another (each pool's allocated capacity grows with
every volume placed on it, so a pass never over-fills a pool), one write. A burst of creates
costs a few passes rather than one transaction each.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import log, trace
from overcast.common.bus import Bus
from overcast.common.config import Settings
from overcast.common.db.base import utcnow
from overcast.common.db.session import Database
from overcast.volume import messages, outcomes, rpc
from overcast.volume.models.groups import Group
from overcast.volume.models.types import VolumeType
from overcast.volume.models.volumes import Snapshot, Volume
from overcast.volume.scheduler import filters, pools, weighers

LOG = log.get(__name__)


class Scheduler:
    def __init__(self, settings: Settings, db: Database, bus: Bus) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self._pending: dict[str, dict[str, Any]] = {}
        self._lock = asyncio.Lock()

    async def create_volume(self, ctx: dict[str, Any], volume_id: str) -> None:
        self._pending[volume_id] = ctx
        async with self._lock:
            if volume_id not in self._pending:
                return  # placed by the pass that ran while this one waited
            batch, self._pending = self._pending, {}
            with trace.span("scheduled", volumes=len(batch)) as step:
                placed = await self._place(batch)
                if volume_id not in placed:
                    step.end(messages.DETAILS[messages.NO_BACKEND])
        for vid, backend in placed.items():
            await rpc.cast_agent(self.bus, backend, "create_volume", batch[vid], volume_id=vid)

    async def create_group(self, ctx: dict[str, Any], group_id: str) -> None:
        """Place a group on a pool that can hold every one of its volume types."""
        settings = self.settings.volume
        async with self.db.session() as session:
            group = await session.get(Group, group_id)
            if group is None or group.deleted or group.status != "creating":
                return
            rows = await session.execute(
                select(VolumeType).where(VolumeType.id.in_(group.volume_type_ids or []))
            )
            requests = [
                filters.Request(
                    size=0,
                    availability_zone=group.availability_zone,
                    extra_specs=dict(t.extra_specs or {}),
                )
                for t in rows.scalars()
            ]
            live = await pools.live(session, settings.service_down_time)
            candidates = [p for p in live if all(filters.passing([p], q) for q in requests)]
            if not candidates or not requests:
                group.status = "error"
                outcomes.message(
                    session,
                    group.project_id,
                    "GROUP",
                    group.id,
                    messages.SCHEDULE,
                    messages.NO_BACKEND,
                    ctx,
                )
                return
            group.host = weighers.best(candidates, requests[0], settings).host
            backend = group.backend
        assert backend is not None
        await rpc.cast_agent(self.bus, backend, "create_group", ctx, group_id=group_id)

    async def migrate_volume(self, ctx: dict[str, Any], volume_id: str) -> None:
        """Choose where a migrating volume goes (the pool an admin named, if it passes, or
        the best pool for its new type on another back end) and cast to its agent."""
        settings = self.settings.volume
        async with self.db.session() as session:
            volume = await session.get(Volume, volume_id)
            if volume is None or volume.deleted or volume.migration_status != "starting":
                return
            task = dict(volume.task or {})
            vtype = await session.get(VolumeType, task.get("retype_to") or volume.volume_type_id)
            request = filters.Request(
                size=volume.size,
                availability_zone=volume.availability_zone,
                extra_specs=dict(vtype.extra_specs) if vtype else {},
            )
            live = await pools.live(session, settings.service_down_time)
            wanted = task.get("migrate_host")
            candidates = [
                p
                for p in filters.passing(live, request)
                if p.backend != volume.backend and (not wanted or wanted in (p.host, p.backend))
            ]
            if not candidates:
                LOG.info("no back end to migrate volume %s to", volume_id)
                outcomes.migration_failed(session, volume, ctx)
                return
            dest = weighers.best(candidates, request, settings).host
            source = volume.backend
        assert source is not None
        await rpc.cast_agent(
            self.bus, source, "migrate_volume", ctx, volume_id=volume_id, dest_host=dest
        )

    async def _place(self, batch: dict[str, dict[str, Any]]) -> dict[str, str]:
        """Place every volume of `batch` (id -> caller's context); {volume id: back end}."""
        settings = self.settings.volume
        placed: dict[str, str] = {}
        async with self.db.session() as session:
            rows = await session.execute(select(Volume).where(Volume.id.in_(list(batch))))
            volumes = [v for v in rows.scalars() if not v.deleted and v.status == "creating"]
            if not volumes:
                return placed
            type_ids = {v.volume_type_id for v in volumes}
            types = {
                t.id: t
                for t in (
                    await session.execute(select(VolumeType).where(VolumeType.id.in_(type_ids)))
                ).scalars()
            }
            live = await pools.live(session, settings.service_down_time)
            now = utcnow()
            for volume in sorted(volumes, key=lambda v: v.created_at):
                vtype = types.get(volume.volume_type_id)
                request = filters.Request(
                    size=volume.size,
                    availability_zone=volume.availability_zone,
                    extra_specs=dict(vtype.extra_specs) if vtype else {},
                    backend=await _source_backend(session, volume),
                    exclude=tuple(volume.attempted or ()),
                )
                candidates = filters.passing(live, request)
                if not candidates:
                    LOG.info("no back end for volume %s", volume.id)
                    outcomes.volume_failed(
                        session,
                        volume,
                        action=messages.SCHEDULE,
                        detail=messages.NO_BACKEND,
                        ctx=batch[volume.id],
                        ttl=settings.message_ttl,
                    )
                    continue
                trace.note(candidates=len(candidates), of=len(live))
                pool = weighers.best(candidates, request, settings)
                trace.note(host=pool.backend)
                pool.allocated_capacity_gb += volume.size
                volume.host = pool.host
                volume.scheduled_at = now
                placed[volume.id] = pool.backend
        return placed


async def _source_backend(session: AsyncSession, volume: Volume) -> str | None:
    """A volume made from a snapshot or another volume is made on its source's back end, and
    a volume of a group on the group's."""
    if volume.group_id:
        group = await session.get(Group, volume.group_id)
        if group is not None and group.backend:
            return group.backend
    source_id = volume.source_volid
    if volume.snapshot_id:
        snap = await session.get(Snapshot, volume.snapshot_id)
        source_id = snap.volume_id if snap is not None else None
    if not source_id:
        return None
    source = await session.get(Volume, source_id)
    return source.backend if source is not None else None
