"""The network agent of one host (Neutron's L2 agent, and L3/DHCP where its driver can):
it reports in with heartbeats, and reconciles the host with the database, level-based:
a full pass every `report_interval` and at start, and one port at once when the API casts
`port_changed` to `network-agent.<host>`. Ports its driver has wired go ACTIVE; compute hears
of it through `Notifier` (Nova's `network-vif-plugged` event)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

from sqlalchemy import select

from overcast.common import log
from overcast.common.bus import Bus
from overcast.common.config import Settings
from overcast.common.db.base import utcnow
from overcast.common.db.session import Database
from overcast.network import drivers, standard
from overcast.network.agent import desired
from overcast.network.models import Agent, Port

LOG = log.get(__name__)
TOPIC = "network-agent"


class Notifier(Protocol):
    async def port_status(self, port: dict[str, Any], status: str) -> None:
        """Tell compute that a port it owns went up (ACTIVE) or down."""


class NetworkAgent:
    def __init__(
        self, settings: Settings, db: Database, bus: Bus, host: str, notifier: Notifier
    ) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self.host = host
        self.notifier = notifier
        self.driver = drivers.load(settings.network.driver, settings, _Callbacks(self))
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        # The status last recorded for each port of this host: a pass reports every wired
        # port, and only changes need a write.
        self.known: dict[str, str] = {}

    async def start(self) -> None:
        await self.driver.start()
        await self.heartbeat(starting=True)
        self.bus.serve(TOPIC, self, server=self.host)
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.driver.stop()

    async def _loop(self) -> None:
        first = True
        while True:
            try:
                if not first:
                    await self.heartbeat()
                await self.resync({})
            except Exception:  # the next pass tries again
                LOG.exception("network agent pass failed", extra={"fields": {"host": self.host}})
            first = False
            await asyncio.sleep(self.settings.network.report_interval)

    def _records(self) -> list[tuple[str, str, dict[str, Any]]]:
        caps = self.driver.capabilities
        l2 = {
            "kind": "l2",
            "vif_type": caps.vif_type,
            "vif_details": caps.vif_details,
            "network_types": list(caps.network_types),
            "vnic_types": list(caps.vnic_types),
            "driver": self.settings.network.driver,
        }
        records = [(caps.agent_type, caps.binary, l2)]
        if caps.l3:
            records.append(("L3 agent", "overcast-l3-agent", {"kind": "l3"}))
        if caps.dhcp:
            records.append(("DHCP agent", "overcast-dhcp-agent", {"kind": "dhcp"}))
        return records

    async def heartbeat(self, starting: bool = False) -> None:
        """Report in: one row per agent type this host runs, created on first report."""
        now = utcnow()
        zone = self.settings.network.default_availability_zones[0]
        async with self.db.session() as session:
            for agent_type, binary, config in self._records():
                found = (
                    await session.execute(
                        select(Agent).where(Agent.agent_type == agent_type, Agent.host == self.host)
                    )
                ).scalar_one_or_none()
                if found is None:
                    found = Agent(
                        agent_type=agent_type,
                        binary=binary,
                        host=self.host,
                        topic=TOPIC,
                        created_at=now,
                        started_at=now,
                    )
                    session.add(found)
                found.configurations = config
                found.availability_zone = zone if config["kind"] != "l2" else None
                found.heartbeat_timestamp = now
                found.resources_synced = True
                if starting:
                    found.started_at = now

    # -- bus endpoint -------------------------------------------------------------------

    async def resync(self, _ctx: dict[str, Any]) -> None:
        """A full pass: hand the driver the whole desired state of this host."""
        async with self._lock:
            async with self.db.reader() as session:
                state = await desired.host_state(session, self.host, self.driver.capabilities.l3)
                rows = await session.execute(
                    select(Port.id, Port.status).where(Port.host == self.host)
                )
                self.known = {port_id: status for port_id, status in rows}
            await self.driver.apply(state)

    async def port_changed(self, _ctx: dict[str, Any], port_id: str) -> None:
        self.known.pop(port_id, None)
        async with self._lock:
            async with self.db.reader() as session:
                found = await desired.one_port(session, port_id, self.host)
            if found is None:
                await self.driver.unbind_port(port_id)
            else:
                await self.driver.bind_port(*found)

    async def set_status(self, port_id: str, status: str) -> None:
        """Record a port's status (once it changes) and tell compute when it owns the port."""
        if self.known.get(port_id) == status:
            return
        self.known[port_id] = status
        async with self.db.session() as session:
            port = await session.get(Port, port_id)
            if port is None or port.status == status:
                return
            if status == "ACTIVE" and port.host != self.host:
                return
            port.status = status
            standard.bump(port)
            owner, device, host = port.device_owner, port.device_id, port.host
        if owner.startswith("compute:") and device:
            await self.notifier.port_status(
                {"id": port_id, "device_id": device, "host": host}, status
            )


class _Callbacks:
    """What the driver may tell the agent (see `drivers.Callbacks`)."""

    def __init__(self, agent: NetworkAgent) -> None:
        self.agent = agent

    async def port_up(self, port_id: str) -> None:
        await self.agent.set_status(port_id, "ACTIVE")

    async def port_down(self, port_id: str) -> None:
        await self.agent.set_status(port_id, "DOWN")
