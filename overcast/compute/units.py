"""Compute's units, one per process role: `SchedulerUnit` ("scheduler"), `ConductorUnit`
("conductor", with the cloud-wide reconciliation and periodic tasks) and `ComputeUnit`
("compute": the agents of this node's hosts). Each serves the bus and keeps its os-services
row up; they meet only over the bus and the database, so each may run in another process.

`service.ComputeService.units` declares them; `Units` is all three in one (tests).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from functools import partial

from sqlalchemy import select

from overcast.common import log
from overcast.common.bus import Bus
from overcast.common.config import Settings
from overcast.common.db import session
from overcast.common.db.base import utcnow
from overcast.common.db.session import Database
from overcast.compute import conductor
from overcast.compute.agent import ComputeHost
from overcast.compute.agent.host import ConductorAPI
from overcast.compute.agent.manager import persist, report_hosts, sync_power_states
from overcast.compute.conductor import recovery
from overcast.compute.models import hosts
from overcast.compute.remote import Remote
from overcast.compute.scheduler import manager

LOG = log.get(__name__)


def host_names(settings: Settings) -> list[str]:
    """The compute hosts this node runs: `fake_hosts` fake ones (`<host_prefix>1..N`) on the
    fake driver, else the node itself."""
    compute = settings.compute
    if compute.driver != "fake":
        return [settings.host_name]
    return [f"{compute.host_prefix}{i}" for i in range(1, compute.fake_hosts + 1)]


class Periodic:
    """Jobs run every so many seconds until `stop`; a failure is logged and the job goes on."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def every(self, seconds: float, job: Callable[[], Awaitable[None]], once: bool = False) -> None:
        """Run `job` every `seconds` (only once, after `seconds`, with `once`)."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await job()
                except Exception as exc:
                    session.report_failed_pass(LOG, "compute periodic task failed", exc)
                if once:
                    return

        self._tasks.append(asyncio.get_running_loop().create_task(loop()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()


async def heartbeat(db: Database, host: str, binary: str) -> None:
    """Keep `binary`'s row on `host` in os-services up (made on the first beat)."""
    now = utcnow()
    async with db.session() as session:
        svc = (
            await session.execute(
                select(hosts.Service).where(
                    hosts.Service.host == host, hosts.Service.binary == binary
                )
            )
        ).scalar_one_or_none()
        if svc is None:
            svc = hosts.Service(host=host, binary=binary, topic=binary[5:])
            session.add(svc)
        svc.last_seen_up = now
        svc.updated_at = now
        svc.report_count = (svc.report_count or 0) + 1


class SchedulerUnit:
    def __init__(self, settings: Settings, db: Database, bus: Bus) -> None:
        self.settings, self.db, self.bus = settings, db, bus
        self.periodic = Periodic()

    async def start(self) -> None:
        me = self.settings.host_name
        scheduler = manager.Scheduler(self.settings, self.db)
        self.bus.serve(manager.TOPIC, manager.SchedulerEndpoint(scheduler, self.db), server=me)
        await heartbeat(self.db, me, "nova-scheduler")
        self.periodic.every(
            self.settings.compute.report_interval,
            lambda: heartbeat(self.db, me, "nova-scheduler"),
        )

    async def stop(self) -> None:
        await self.periodic.stop()


class ConductorUnit:
    def __init__(self, settings: Settings, db: Database, bus: Bus) -> None:
        self.settings, self.db, self.bus = settings, db, bus
        self.periodic = Periodic()

    async def start(self) -> None:
        me, compute = self.settings.host_name, self.settings.compute
        # Recovered before it serves: the builds queued for it while it was down are not yet
        # taken, so they are not taken for builds its crash interrupted.
        await recovery.recover_cloud(self.db, me, self.bus.keeps_messages)
        self.bus.serve(
            conductor.TOPIC, conductor.Conductor(self.settings, self.db, self.bus), server=me
        )
        await heartbeat(self.db, me, "nova-conductor")
        if self.bus.keeps_messages:
            started = utcnow()
            self.periodic.every(
                compute.lost_build_grace,
                lambda: recovery.fail_lost_builds(self.db, started),
                once=True,
            )
        self.periodic.every(
            compute.report_interval, lambda: heartbeat(self.db, me, "nova-conductor")
        )
        self.periodic.every(60.0, lambda: recovery.expire_builds(self.db, compute.build_timeout))

    async def stop(self) -> None:
        await self.periodic.stop()


class ComputeUnit:
    """The compute agents of this node's hosts (`host_names`), started 50 at a time."""

    def __init__(self, settings: Settings, bus: Bus, remote: Remote) -> None:
        self.settings, self.bus, self.remote = settings, bus, remote
        self.hosts: dict[str, ComputeHost] = {}
        self.conductor = ConductorAPI(bus)
        self.periodic = Periodic()

    async def start(self) -> None:
        names = host_names(self.settings)
        for start in range(0, len(names), 50):
            batch = [
                ComputeHost(self.settings, self.bus, n, self.remote)
                for n in names[start : start + 50]
            ]
            await asyncio.gather(*(h.prepare() for h in batch))
            await persist("the hosts' first report", partial(report_hosts, self.conductor, batch))
            await asyncio.gather(*(h.start() for h in batch))
            self.hosts.update({h.host: h for h in batch})
        LOG.info("compute started with %d hosts", len(self.hosts))
        self.periodic.every(
            self.settings.compute.report_interval,
            lambda: report_hosts(self.conductor, list(self.hosts.values())),
        )
        self.periodic.every(
            self.settings.compute.sync_power_state_interval,
            lambda: sync_power_states(self.conductor, list(self.hosts.values())),
        )

    async def stop(self) -> None:
        await self.periodic.stop()
        await asyncio.gather(*(h.stop() for h in self.hosts.values()))


class Units:
    """Scheduler, conductor and compute agents together, as one process runs them."""

    def __init__(self, settings: Settings, db: Database, bus: Bus, remote: Remote) -> None:
        self.compute = ComputeUnit(settings, bus, remote)
        self.parts: list[SchedulerUnit | ConductorUnit] = [
            SchedulerUnit(settings, db, bus),
            ConductorUnit(settings, db, bus),
        ]
        self.hosts = self.compute.hosts

    async def start(self) -> None:
        for part in self.parts:
            await part.start()
        await self.compute.start()

    async def stop(self) -> None:
        await self.compute.stop()
        for part in reversed(self.parts):
            await part.stop()
