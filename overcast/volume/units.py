"""The units of block storage in this process: the scheduler and one agent per configured
back end, each served on the bus, with their service rows kept up (`volume service list`) and
each back end's pools reported for the scheduler. `service.VolumeService.start` builds one.

Units meet only over the bus and the database, so each could run in another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import delete, select

from overcast.common import errors, log
from overcast.common.bus import Bus
from overcast.common.config import Settings
from overcast.common.db.base import utcnow
from overcast.common.db.session import Database
from overcast.volume import rpc
from overcast.volume.agent import reconcile
from overcast.volume.agent.backend import Backend
from overcast.volume.drivers import backup as backup_drivers
from overcast.volume.drivers import load as load_driver
from overcast.volume.models.groups import Group
from overcast.volume.models.hosts import Message, Service
from overcast.volume.models.volumes import Volume
from overcast.volume.scheduler.manager import Scheduler

LOG = log.get(__name__)


@dataclasses.dataclass
class _Callbacks:
    node_name: str
    directory: Path
    address: str

    def node(self) -> str:
        return self.node_name

    def state_dir(self) -> Path:
        return self.directory

    def export_address(self) -> str:
        return self.address


class Units:
    def __init__(
        self, settings: Settings, db: Database, bus: Bus, endpoint: Callable[[str], str]
    ) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self.endpoint = endpoint
        self.node = settings.host_name
        self.backends: list[Backend] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        settings = self.settings.volume
        self.bus.serve(rpc.SCHEDULER, Scheduler(self.settings, self.db, self.bus), server=self.node)
        backup_root = settings.backup_path or self.settings.data_dir / "backups"
        for name, config in settings.backends.items():
            config = config.model_copy(
                update={"path": config.path or self.settings.data_dir / "volumes" / name}
            )
            callbacks = _Callbacks(
                self.node, self.settings.data_dir / "volume-state" / name, settings.export_address
            )
            driver = load_driver(name, config, callbacks)
            try:
                await driver.setup()
            except errors.ServiceUnavailable as exc:
                LOG.error("volume back end %s cannot start: %s", name, exc.message)
                continue
            backend = Backend(
                self.settings,
                self.db,
                self.bus,
                name,
                self.node,
                config,
                driver,
                backup_drivers.load("file", backup_root),
                self.endpoint,
            )
            self.bus.serve(rpc.AGENT, backend, server=backend.host)
            self.backends.append(backend)
        await self.report()
        for backend in self.backends:
            await reconcile.recover(backend)
        await self._reschedule_unplaced()
        self._every(settings.report_interval, self.report)
        self._every(3600.0, self._expire_messages)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await job()
                except Exception:
                    LOG.exception("volume periodic task failed")

        self._tasks.append(asyncio.get_running_loop().create_task(loop()))

    async def report(self) -> None:
        """Keep the service rows up; each back end's pools with what its driver reports."""
        settings = self.settings.volume
        reports = []
        for backend in self.backends:
            try:
                pools = await backend.driver.get_stats()
            except Exception as exc:  # noqa: BLE001 - a back end that cannot report has no pools
                LOG.warning("back end %s did not report: %s", backend.name, exc)
                pools = []
            capabilities = {}
            for pool in pools:
                stats = dataclasses.asdict(pool)
                extra = stats.pop("extra")
                stats.update(extra)
                stats.update(backend.config.capabilities)
                stats["volume_backend_name"] = backend.config.volume_backend_name or backend.name
                stats["driver_version"] = "1.0"
                stats["vendor_name"] = "Overcast"
                stats["QoS_support"] = False
                capabilities[pool.pool_name] = stats
            reports.append((backend.host, "cinder-volume", backend.zone, capabilities))
        zone = settings.default_availability_zone
        reports.append((self.node, "cinder-scheduler", zone, {}))
        reports.append((self.node, "cinder-backup", zone, {}))
        now = utcnow()
        async with self.db.session() as session:
            for host, binary, az, capabilities in reports:
                row = await session.scalar(
                    select(Service).where(Service.host == host, Service.binary == binary)
                )
                if row is None:
                    row = Service(host=host, binary=binary, topic=binary, report_count=0)
                    session.add(row)
                row.availability_zone = az
                row.capabilities = capabilities
                row.last_seen_up = row.updated_at = now
                row.report_count = (row.report_count or 0) + 1

    async def _reschedule_unplaced(self) -> None:
        """Creates the scheduler had not placed when the process stopped are placed now."""
        async with self.db.reader() as session:
            rows = await session.execute(
                select(Volume.id).where(
                    Volume.status == "creating", Volume.host.is_(None), Volume.deleted.is_(False)
                )
            )
            pending = list(rows.scalars())
        for volume_id in pending:
            await rpc.schedule_create(self.bus, {}, volume_id)
        async with self.db.reader() as session:
            rows = await session.execute(
                select(Group.id).where(
                    Group.status == "creating", Group.host.is_(None), Group.deleted.is_(False)
                )
            )
            groups = list(rows.scalars())
        for group_id in groups:
            await rpc.schedule_group(self.bus, {}, group_id)

    async def _expire_messages(self) -> None:
        async with self.db.session() as session:
            await session.execute(delete(Message).where(Message.expires_at < utcnow()))
