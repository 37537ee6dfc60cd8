"""The network agent of one host (Neutron's L2 agent, and L3/DHCP where its driver can):
it reports in with heartbeats, and reconciles the host with the database, level-based:
a full pass every `report_interval` and at start, ports at once when the API casts
`port_changed` to `network-agent.<host>` (those that arrive while it is busy in one batch),
and the filtering of security groups when the API fans `security_groups_changed` out (a
group's rules or members changed: looked up only for the groups this host filters with). Ports its driver has wired go ACTIVE; compute hears of it
through `Notifier` (Nova's `network-vif-plugged` event)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any, Protocol

from sqlalchemy import select

from overcast.common import log
from overcast.common.bus import Bus
from overcast.common.config import Settings
from overcast.common.db.base import utcnow
from overcast.common.db.session import Database
from overcast.network import drivers, standard
from overcast.network.agent import desired, dhcp_ports
from overcast.network.models import Agent, Port
from overcast.network.state import NetworkState

LOG = log.get(__name__)
TOPIC = "network-agent"


class Notifier(Protocol):
    async def port_status(self, port: dict[str, Any], status: str) -> None:
        """Tell compute that a port it owns went up (ACTIVE) or down."""


class NetworkAgent:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        bus: Bus,
        host: str,
        notifier: Notifier,
        state: NetworkState | None = None,
    ) -> None:
        self.settings = settings
        self.state = state  # the service's, to make DHCP ports (without it: none are made)
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
        self._soon_task: asyncio.Task[None] | None = None
        self._ports_pending: set[str] = set()  # changed, waiting for the next batch
        self._soon_dirty = False
        # Security groups changed and not yet handed to the driver: changes that arrive while
        # it works are handed over together once it is done.
        self._groups_pending: set[str] = set()
        self._groups_task: asyncio.Task[None] | None = None
        # The groups last handed to the driver (those of its wired ports and their rules'
        # remotes), as of its last read under `_lock`: a change to any other group concerns
        # this host only once a port of it comes here, and that port's batch reads the group
        # afresh. Most changes are of other hosts' groups (every port created joins its
        # project's default group): those cost no look-up.
        self.filtering: set[str] = set()

    @property
    def caps(self) -> drivers.Capabilities:
        """The driver's capabilities less the DHCP and L3 agents this node does not run
        (`network.dhcp_agent`, `network.l3_agent`: compute nodes leave them to a network node,
        as Neutron runs those agents there only)."""
        caps, wanted = self.driver.capabilities, self.settings.network
        return dataclasses.replace(
            caps, dhcp=caps.dhcp and wanted.dhcp_agent, l3=caps.l3 and wanted.l3_agent
        )

    async def start(self) -> None:
        await self.driver.start()
        await self.heartbeat(starting=True)
        self.bus.serve(TOPIC, self, server=self.host)
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        for task in (self._task, self._soon_task, self._groups_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
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
        caps = self.caps
        l2 = {
            "kind": "l2",
            "vif_type": caps.vif_type,
            "vif_details": caps.vif_details,
            "network_types": list(caps.network_types),
            "vnic_types": list(caps.vnic_types),
            "driver": self.settings.network.driver,
            **caps.configurations,
        }
        records = [(caps.agent_type, caps.binary, l2)]
        if caps.l3:
            records.append((desired.L3_AGENT, "overcast-l3-agent", {"kind": "l3"}))
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
            if self.caps.dhcp and self.state is not None:
                await dhcp_ports.ensure(self.state, self.host)
            async with self.db.reader() as session:
                state = await desired.host_state(session, self.host, self.caps.l3)
                self.filtering = {group.id for group in state.security_groups}
                rows = await session.execute(
                    select(Port.id, Port.status).where(Port.host == self.host)
                )
                self.known = {port_id: status for port_id, status in rows}
            await self.driver.apply(state)

    async def routers_changed(self, _ctx: dict[str, Any]) -> None:
        """A router, floating IP or port forwarding changed: an L3 host makes a full pass
        soon, without holding the caller; changes meanwhile fold into that pass."""
        if self.caps.l3:
            self._pass_soon()

    async def ports_moved(self, _ctx: dict[str, Any], network_id: str, host: str) -> None:
        """A port of `network_id` was bound to, or left, `host`: another host that serves
        DHCP (its host entries) or tunnels to others (VXLAN flooding entries, as
        l2population's fdb_add) makes a full pass soon."""
        caps = self.caps
        if host != self.host and (caps.dhcp or caps.configurations.get("tunneling_ip")):
            self._pass_soon()

    def _pass_soon(self) -> None:
        self._soon_dirty = True
        if self._soon_task is None or self._soon_task.done():
            self._soon_task = asyncio.get_running_loop().create_task(self._soon_passes())

    async def _soon_passes(self) -> None:
        while self._soon_dirty:
            self._soon_dirty = False
            try:
                await self.resync({})
            except Exception:  # the periodic pass tries again
                LOG.exception("network agent pass failed", extra={"fields": {"host": self.host}})

    async def port_changed(self, ctx: dict[str, Any], port_id: str) -> None:
        """Wire (or unwire) a port now; returns once it is done. Ports that change while the
        agent is busy wait together and go in one batch (`Driver.apply_ports`: one firewall
        transaction, one DHCP reload), so a burst of ports costs a few passes, not one each."""
        self.known.pop(port_id, None)
        self._ports_pending.add(port_id)
        async with self._lock:
            ids = sorted(self._ports_pending)
            self._ports_pending.clear()
            if not ids:  # a batch that ran meanwhile took this port
                return
            async with self.db.reader() as session:
                batch = await desired.some_ports(session, ids, self.host)
            self.filtering.update(group.id for group in batch.security_groups)
            full = False
            if batch.ports and self.caps.dhcp and self.state is not None:
                # A network's first port: its DHCP server must be there before the guest asks.
                networks = sorted({network.id for _, network in batch.ports})
                full = await dhcp_ports.ensure(self.state, self.host, only=networks)
            if not full:
                await self.driver.apply_ports(batch)
        if full:
            await self.resync(ctx)

    async def security_groups_changed(self, _ctx: dict[str, Any], group_ids: list[str]) -> None:
        if type(self.driver).security_groups_changed is drivers.Driver.security_groups_changed:
            return  # a driver that does not filter: nothing to look up for it
        self._groups_pending.update(group_ids)
        if self._groups_task is None or self._groups_task.done():
            self._groups_task = asyncio.get_running_loop().create_task(self._refresh_groups())

    async def _refresh_groups(self) -> None:
        while self._groups_pending:
            ids = sorted(self._groups_pending)
            self._groups_pending.clear()
            try:
                async with self._lock:
                    ids = [group_id for group_id in ids if group_id in self.filtering]
                    if not ids:
                        continue
                    async with self.db.reader() as session:
                        here = await desired.groups_here(session, self.host, ids)
                        if not here:
                            continue
                        wanted = await desired.with_remotes(session, here)
                        groups = await desired.security_groups(session, wanted)
                    self.filtering.update(group.id for group in groups)
                    await self.driver.security_groups_changed(tuple(groups))
            except Exception:  # the next full pass applies them
                LOG.exception("security groups not applied", extra={"fields": {"ids": ids}})

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
