"""The units of compute in this process: scheduler, conductor and the compute agents of
`compute.fake_hosts` hosts, each served on the bus, plus the service-wide periodic tasks.

`service.ComputeService.start` builds one `Units`; tests build one directly. Units talk only
over the bus and the database, so each could run in another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from overcast.common import log
from overcast.common.bus import Bus
from overcast.common.config import Settings
from overcast.common.db.base import utcnow
from overcast.common.db.session import Database
from overcast.compute import conductor
from overcast.compute.agent import ComputeHost
from overcast.compute.conductor import recovery
from overcast.compute.models import hosts
from overcast.compute.remote import Remote
from overcast.compute.scheduler import manager

LOG = log.get(__name__)


def host_names(settings: Settings) -> list[str]:
    compute = settings.compute
    return [f"{compute.host_prefix}{i}" for i in range(1, compute.fake_hosts + 1)]


class Units:
    def __init__(self, settings: Settings, db: Database, bus: Bus, remote: Remote) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self.remote = remote
        self.hosts: dict[str, ComputeHost] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.me = socket.gethostname()

    async def start(self) -> None:
        scheduler = manager.Scheduler(self.settings, self.db)
        self.bus.serve(manager.TOPIC, manager.SchedulerEndpoint(scheduler, self.db), server=self.me)
        self.bus.serve(
            conductor.TOPIC, conductor.Conductor(self.settings, self.db, self.bus), server=self.me
        )
        await self.heartbeat()
        await recovery.recover_cloud(self.db)
        names = host_names(self.settings)
        for start in range(0, len(names), 50):
            batch = [
                ComputeHost(self.settings, self.bus, n, self.remote)
                for n in names[start : start + 50]
            ]
            await asyncio.gather(*(h.start() for h in batch))
            self.hosts.update({h.host: h for h in batch})
        compute = self.settings.compute
        self._every(compute.report_interval, self.heartbeat)
        self._every(60.0, lambda: recovery.expire_builds(self.db, compute.build_timeout))
        LOG.info("compute started with %d hosts", len(self.hosts))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.gather(*(h.stop() for h in self.hosts.values()))

    def _every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await job()
                except Exception:
                    LOG.exception("compute periodic task failed")

        self._tasks.append(asyncio.get_running_loop().create_task(loop()))

    async def heartbeat(self) -> None:
        """The scheduler's and conductor's rows in os-services, kept up."""
        now = utcnow()
        async with self.db.session() as session:
            for binary in ("nova-scheduler", "nova-conductor"):
                svc = (
                    await session.execute(
                        select(hosts.Service).where(
                            hosts.Service.host == self.me, hosts.Service.binary == binary
                        )
                    )
                ).scalar_one_or_none()
                if svc is None:
                    svc = hosts.Service(host=self.me, binary=binary, topic=binary[5:])
                    session.add(svc)
                svc.last_seen_up = now
                svc.updated_at = now
                svc.report_count = (svc.report_count or 0) + 1
