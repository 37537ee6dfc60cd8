"""A compute host in this process: its driver, its bus endpoint and its periodic tasks.

`ComputeHost` builds the host's means (`host.Host`) and hands them to the pieces that serve the
bus as `compute.<host>` (`build`, `actions`, `moves`, `images`); it is the driver's callbacks
object, and runs the reconciler at start and periodically. Built by `compute.units`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import asdict

from overcast.common import log
from overcast.common.bus import Bus
from overcast.common.bus.endpoints import Endpoint
from overcast.common.config import Settings
from overcast.compute import drivers
from overcast.compute.agent import reconcile
from overcast.compute.agent.actions import Actions
from overcast.compute.agent.build import Builds
from overcast.compute.agent.events import Events
from overcast.compute.agent.host import ADMIN_CTX, Host
from overcast.compute.agent.images import Images
from overcast.compute.agent.interfaces import Interfaces
from overcast.compute.agent.moves import Moves
from overcast.compute.agent.volumes import Volumes
from overcast.compute.remote import Remote

LOG = log.get(__name__)


class ComputeHost:
    """One compute agent (nova-compute). The agent never touches the database: it reads and
    writes instances through the conductor, and reaches image, network and volume services
    through their REST clients with the user's token."""

    def __init__(self, settings: Settings, bus: Bus, host: str, remote: Remote) -> None:
        self.settings = settings
        self.host = host
        self.driver = drivers.load(settings, self)
        self.h = Host(settings, bus, host, remote, self.driver)
        self.builds = Builds(self.h)
        self.endpoint = Endpoint(
            self.builds,
            Actions(self.h),
            Moves(self.h),
            Images(self.h),
            Events(self.h.events),
            Volumes(self.h),
            Interfaces(self.h),
        )
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.driver.init_host(self.host)
        await self.report()
        self.h.bus.serve("compute", self.endpoint, server=self.host)
        await reconcile.recover_host(self.h, self.builds)
        compute = self.settings.compute
        self._every(compute.report_interval, self.report)
        self._every(compute.sync_power_state_interval, self.sync_power_states)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.driver.cleanup_host()

    def _every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        async def loop() -> None:
            await asyncio.sleep(random.uniform(0, seconds))  # spread many hosts' reports
            while True:
                try:
                    await job()
                except Exception:  # a periodic task must outlive one bad round
                    LOG.exception("periodic task failed on %s", self.host)
                await asyncio.sleep(seconds)

        self._tasks.append(asyncio.get_running_loop().create_task(loop()))

    async def report(self) -> None:
        resources = await self.driver.get_available_resources()
        await self.h.conductor.call("report", ADMIN_CTX, host=self.host, node=asdict(resources))

    async def sync_power_states(self) -> None:
        await reconcile.sync_power_states(self.h)

    async def lifecycle_event(self, instance_uuid: str, power_state: int) -> None:
        """Driver callback: a guest changed power state by itself."""
        await reconcile.sync_one(self.h, instance_uuid, power_state)
