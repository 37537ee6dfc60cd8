"""A compute host in this process: its driver, its bus endpoint and its periodic tasks.

`ComputeHost` builds the host's means (`host.Host`) and hands them to the pieces that serve the
bus as `compute.<host>` (`build`, `actions`, `moves`, `images`, `volumes`, `assisted`, ...);
it is the driver's callbacks object, and runs the reconciler at start and periodically. Built by
`compute.units`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import fields
from typing import Any

from overcast.common import errors, log
from overcast.common.bus import Bus
from overcast.common.bus.endpoints import Endpoint
from overcast.common.config import Settings
from overcast.common.db import session
from overcast.compute import drivers
from overcast.compute.agent import reconcile
from overcast.compute.agent.actions import Actions
from overcast.compute.agent.assisted import AssistedSnapshots
from overcast.compute.agent.build import Builds
from overcast.compute.agent.events import Events
from overcast.compute.agent.host import ADMIN_CTX, ConductorAPI, Host
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
        volumes = Volumes(self.h)
        self.endpoint = Endpoint(
            self.builds,
            Actions(self.h),
            Moves(self.h),
            Images(self.h),
            Events(self.h.events, {"volume-extended": volumes.volume_extended}),
            volumes,
            AssistedSnapshots(self.h),
            Interfaces(self.h),
        )

    async def prepare(self) -> None:
        """Before the host's first report (`report_hosts`): the driver is ready."""
        await self.driver.init_host(self.host)

    async def start(self) -> None:
        """After the first report: serve the bus, settle what a crash left, sync power states."""
        self.h.bus.serve("compute", self.endpoint, server=self.host)
        await persist(f"{self.host}: recovery", lambda: reconcile.recover_host(self.h, self.builds))

    async def stop(self) -> None:
        await self.driver.cleanup_host()

    async def resources(self) -> dict[str, Any]:
        """This host's report: its name and its node's totals."""
        found = await self.driver.get_available_resources()
        # Field by field, not dataclasses.asdict: its deep copy of every nested dict cost a
        # process of 250 fake hosts a fifth of a second per report, and the report is only
        # serialised.
        return {"host": self.host, "node": {f.name: getattr(found, f.name) for f in fields(found)}}

    async def sync_power_states(self, found: list[dict[str, Any]]) -> None:
        """Power states from the driver, for the instances the database puts on this host."""
        await reconcile.sync_power_states(self.h, found)

    async def lifecycle_event(self, instance_uuid: str, power_state: int) -> None:
        """Driver callback: a guest changed power state by itself."""
        await reconcile.sync_one(self.h, instance_uuid, power_state)


async def persist(what: str, step: Callable[[], Awaitable[None]], tries: int = 6) -> None:
    """Run a start-up step that needs the conductor, again after a failure (1, 2, 4... s):
    when many hosts start at once the conductor may answer some of them only later."""
    for attempt in range(tries):
        try:
            await step()
            return
        except errors.OvercastError as exc:
            if attempt == tries - 1:
                raise
            LOG.warning("%s failed (%s); trying again", what, exc)
            await asyncio.sleep(2**attempt)


async def sync_power_states(conductor: ConductorAPI, hosts: list[ComputeHost]) -> None:
    """Every host's power-state sync, with the instances of 100 hosts read in one conductor
    call (one call per host a minute would keep a conductor busy with a thousand fake hosts)."""
    for first in range(0, len(hosts), 100):
        batch = hosts[first : first + 100]
        found = await conductor.call("instances_on_hosts", ADMIN_CTX, hosts=[h.host for h in batch])
        for h in batch:
            try:
                await h.sync_power_states(found.get(h.host, []))
            except Exception as exc:  # one host's failure must not stop the others' sync
                session.report_failed_pass(LOG, f"power state sync failed on {h.host}", exc)


async def report_hosts(conductor: ConductorAPI, hosts: list[ComputeHost]) -> None:
    """Every host's service heartbeat and node totals, in one call per 100 hosts: a process
    with many (fake) hosts costs the conductor a few calls a round, not one per host."""
    for first in range(0, len(hosts), 100):
        reports = [await h.resources() for h in hosts[first : first + 100]]
        await conductor.call("report", ADMIN_CTX, reports=reports)
