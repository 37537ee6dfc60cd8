"""One back end's agent (`node@backend`), the bus endpoint of its volumes' operations.

Each operation reads the row, asks the driver, and writes the outcome; a driver failure ends
in the resource's error state with a user message (see `outcomes`), except a failed create,
which goes back to the scheduler to try another back end until `scheduler_max_attempts`.
Operations are idempotent, so a message replayed after a crash does no harm.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from overcast.clients.identity import ServiceToken
from overcast.clients.image import ImageClient
from overcast.common import errors, log, trace
from overcast.common.bus import Bus
from overcast.common.config import Settings, VolumeBackendSettings
from overcast.common.db.base import utcnow
from overcast.common.db.session import Database
from overcast.volume import messages, outcomes, rpc
from overcast.volume.agent import (
    attached,
    backups,
    extend,
    groups,
    images,
    migration,
    refs,
    snapshots,
)
from overcast.volume.drivers import VolumeDriver
from overcast.volume.drivers.backup import BackupDriver
from overcast.volume.models.volumes import Snapshot, Volume

LOG = log.get(__name__)


class Backend:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        bus: Bus,
        name: str,
        node: str,
        config: VolumeBackendSettings,
        driver: VolumeDriver,
        backups: BackupDriver,
        endpoint: Callable[[str], str],
    ) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self.name = name
        self.node = node
        self.host = f"{node}@{name}"
        self.config = config
        self.driver = driver
        self.backups = backups
        self.endpoint = endpoint
        # For what only a service may ask of another (compute's swap volume), as Cinder's
        # privileged Nova client does.
        self.service_token = ServiceToken(settings)

    @property
    def zone(self) -> str:
        return self.config.availability_zone or self.settings.volume.default_availability_zone

    @property
    def work_dir(self) -> Path:
        assert self.config.path is not None
        return self.config.path

    def images(self, ctx: dict[str, Any]) -> ImageClient:
        return ImageClient(self.endpoint("image"), ctx.get("auth_token"))

    # -- volumes ---------------------------------------------------------------------------

    async def create_volume(self, ctx: dict[str, Any], volume_id: str) -> None:
        with trace.span("volume agent", host=self.host):
            await self._create(ctx, volume_id)

    async def _create(self, ctx: dict[str, Any], volume_id: str) -> None:
        async with self.db.reader() as session:
            volume = await session.get(Volume, volume_id)
            if volume is None or volume.status not in ("creating", "downloading"):
                return
            snap = await session.get(Snapshot, volume.snapshot_id) if volume.snapshot_id else None
            source = await session.get(Volume, volume.source_volid) if volume.source_volid else None
        try:
            with trace.span("volume made by the back end"):
                location = await self._make(ctx, volume, snap, source)
        except Exception as exc:  # noqa: BLE001 - every driver failure ends the same way
            LOG.warning("create of volume %s failed on %s: %s", volume_id, self.host, exc)
            await self._create_failed(ctx, volume_id, exc)
            return
        now = utcnow()
        async with self.db.session() as session:
            # One statement: a volume deleted while it was being made stays deleted (and
            # the delete removes the data).
            await session.execute(
                update(Volume)
                .where(
                    Volume.id == volume_id,
                    Volume.deleted.is_(False),
                    Volume.status.in_(("creating", "downloading")),
                )
                .values(
                    provider_location=location,
                    status="available",
                    launched_at=now,
                    updated_at=now,
                    attempted=[],
                )
            )
        trace.event("available")

    async def _make(
        self, ctx: dict[str, Any], volume: Volume, snap: Snapshot | None, source: Volume | None
    ) -> str:
        ref = refs.volume(volume)
        if snap is not None:
            return await self.driver.create_volume_from_snapshot(ref, refs.snapshot(snap))
        if source is not None:
            return await self.driver.create_cloned_volume(ref, refs.volume(source))
        location = await self.driver.create_volume(ref)
        if volume.image_id:
            await self._set_status(volume.id, "downloading", ("creating",))
            with trace.span("image copied to the volume", image=volume.image_id):
                await self.copy_image(ctx, ref, volume.image_id)
        elif volume.backup_id:
            await backups.restore_into(self, ctx, volume.backup_id, volume.id)
        return location

    async def copy_image(self, ctx: dict[str, Any], ref: Any, image_id: str) -> None:
        client = self.images(ctx)
        image = await client.get(image_id)
        tmp = self.work_dir / f".image-{ref.id}.tmp"
        try:
            await client.download(image_id, tmp)
            await self.driver.copy_image_to_volume(ref, tmp, image.get("disk_format") or "raw")
        finally:
            tmp.unlink(missing_ok=True)

    async def _set_status(self, volume_id: str, status: str, expected: tuple[str, ...]) -> None:
        async with self.db.session() as session:
            row = await session.get(Volume, volume_id)
            if row is not None and row.status in expected:
                row.status = status

    async def _create_failed(self, ctx: dict[str, Any], volume_id: str, exc: Exception) -> None:
        """Retry on another back end while attempts are left (not for clones, which must stay
        on their source's); otherwise `error` with a message, the quota returned."""
        with contextlib.suppress(Exception):
            async with self.db.reader() as session:
                row = await session.get(Volume, volume_id)
            if row is not None:
                await self.driver.delete_volume(refs.volume(row))
        retry = False
        async with self.db.session() as session:
            row = await session.get(Volume, volume_id)
            if row is None or row.deleted or row.status not in ("creating", "downloading"):
                return
            attempted = [*(row.attempted or []), row.host]
            pinned = bool(row.snapshot_id or row.source_volid)
            if not pinned and len(attempted) < self.settings.volume.scheduler_max_attempts:
                row.attempted = attempted
                row.host = None
                row.status = "creating"
                retry = True
            else:
                image_failure = row.status == "downloading"
                too_big = isinstance(exc, errors.BadRequest) and image_failure
                outcomes.volume_failed(
                    session,
                    row,
                    action=messages.COPY_IMAGE_TO_VOLUME
                    if image_failure
                    else messages.CREATE_FROM_BACKEND,
                    detail=messages.IMAGE_TOO_BIG if too_big else messages.DRIVER_CREATE,
                    ctx=ctx,
                    ttl=self.settings.volume.message_ttl,
                )
        if retry:
            await rpc.schedule_create(self.bus, ctx, volume_id)

    async def delete_volume(self, ctx: dict[str, Any], volume_id: str) -> None:
        async with self.db.reader() as session:
            volume = await session.get(Volume, volume_id)
            if volume is None or volume.deleted or volume.status != "deleting":
                return
            rows = await session.execute(
                select(Snapshot).where(Snapshot.volume_id == volume_id, Snapshot.deleted.is_(False))
            )
            snaps = [refs.snapshot(s) for s in rows.scalars()]
        try:
            for snap in snaps:
                await self.driver.delete_snapshot(snap)
            await self.driver.delete_volume(refs.volume(volume))
        except Exception as exc:  # noqa: BLE001
            LOG.warning("delete of volume %s failed: %s", volume_id, exc)
            async with self.db.session() as session:
                row = await session.get(Volume, volume_id)
                if row is not None:
                    row.status = "error_deleting"
            return
        async with self.db.session() as session:
            row = await session.get(Volume, volume_id)
            if row is None:
                return
            now = utcnow()
            for snap in snaps:
                found = await session.get(Snapshot, snap.id)
                if found is not None:
                    found.status, found.deleted, found.deleted_at = "deleted", True, now
            row.status, row.deleted, row.deleted_at, row.terminated_at = "deleted", True, now, now
            row.consumes_quota = False

    async def extend_volume(self, ctx: dict[str, Any], volume_id: str, new_size: int) -> None:
        await extend.extend(self, ctx, volume_id, new_size)

    # -- snapshots, connections, images, backups (in their own modules) --------------------

    async def create_snapshot(self, ctx: dict[str, Any], snapshot_id: str) -> None:
        await snapshots.create(self, ctx, snapshot_id)

    async def delete_snapshot(self, ctx: dict[str, Any], snapshot_id: str) -> None:
        await snapshots.delete(self, ctx, snapshot_id)

    async def revert_to_snapshot(
        self, ctx: dict[str, Any], volume_id: str, snapshot_id: str
    ) -> None:
        await snapshots.revert(self, ctx, volume_id, snapshot_id)

    async def migrate_volume(self, ctx: dict[str, Any], volume_id: str, dest_host: str) -> None:
        await migration.migrate(self, ctx, volume_id, dest_host)

    async def prepare_migration(
        self, ctx: dict[str, Any], volume_id: str, size: int, connector: dict[str, Any]
    ) -> dict[str, Any]:
        return await migration.prepare(self, volume_id, size, connector)

    async def make_migration_target(self, ctx: dict[str, Any], volume_id: str) -> None:
        await attached.make_target(self, volume_id)

    async def release_migration(
        self,
        ctx: dict[str, Any],
        volume_id: str,
        size: int,
        connector: dict[str, Any],
        drop: bool,
    ) -> None:
        await migration.release(self, volume_id, size, connector, drop)

    async def create_group(self, ctx: dict[str, Any], group_id: str) -> None:
        await groups.create(self, ctx, group_id)

    async def create_group_from_source(self, ctx: dict[str, Any], group_id: str) -> None:
        await groups.create_from_source(self, ctx, group_id)

    async def delete_group(self, ctx: dict[str, Any], group_id: str) -> None:
        await groups.delete(self, ctx, group_id)

    async def create_group_snapshot(self, ctx: dict[str, Any], group_snapshot_id: str) -> None:
        await groups.create_snapshot(self, ctx, group_snapshot_id)

    async def delete_group_snapshot(self, ctx: dict[str, Any], group_snapshot_id: str) -> None:
        await groups.delete_snapshot(self, ctx, group_snapshot_id)

    async def initialize_connection(
        self, ctx: dict[str, Any], volume_id: str, connector: dict[str, Any]
    ) -> dict[str, Any]:
        async with self.db.reader() as session:
            volume = await session.get(Volume, volume_id)
        if volume is None or volume.deleted:
            raise errors.NotFound(f"Volume {volume_id} could not be found.")
        info = await self.driver.initialize_connection(refs.volume(volume), connector)
        return info

    async def terminate_connection(
        self, ctx: dict[str, Any], volume_id: str, connector: dict[str, Any]
    ) -> None:
        async with self.db.reader() as session:
            volume = await session.get(Volume, volume_id)
        if volume is not None:
            await self.driver.terminate_connection(refs.volume(volume), connector)

    async def upload_to_image(
        self, ctx: dict[str, Any], volume_id: str, image_id: str, disk_format: str
    ) -> None:
        await images.upload(self, ctx, volume_id, image_id, disk_format)

    async def reimage(self, ctx: dict[str, Any], volume_id: str, image_id: str) -> None:
        await images.reimage(self, ctx, volume_id, image_id)

    async def create_backup(self, ctx: dict[str, Any], backup_id: str) -> None:
        await backups.create(self, ctx, backup_id)

    async def restore_backup(self, ctx: dict[str, Any], backup_id: str, volume_id: str) -> None:
        await backups.restore(self, ctx, backup_id, volume_id)

    async def delete_backup(self, ctx: dict[str, Any], backup_id: str) -> None:
        await backups.delete(self, ctx, backup_id)

    async def verify_backup(self, ctx: dict[str, Any], backup_id: str) -> None:
        await backups.verify(self, ctx, backup_id)

    async def manage_existing(
        self, ctx: dict[str, Any], volume_id: str, reference: dict[str, Any]
    ) -> None:
        await images.manage(self, ctx, volume_id, reference)

    async def list_manageable(self, ctx: dict[str, Any]) -> list[dict[str, Any]]:
        return await self.driver.list_manageable()

    async def unmanage(self, ctx: dict[str, Any], volume_id: str) -> None:
        async with self.db.reader() as session:
            volume = await session.get(Volume, volume_id)
        if volume is None:
            return
        await self.driver.unmanage(refs.volume(volume))
        async with self.db.session() as session:
            row = await session.get(Volume, volume_id)
            if row is not None:
                row.status, row.deleted, row.deleted_at = "deleted", True, utcnow()
                row.consumes_quota = False
