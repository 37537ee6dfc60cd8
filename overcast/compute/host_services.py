"""The os-services view of compute's units: which are up, their zones, and an admin's changes
(disable with a reason, force down, delete). Called by the services, availability-zone and
hypervisor APIs. A service is up when it reported within `service_down_time` and is not forced
down, as Nova's database servicegroup driver decides.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.config import ComputeSettings
from overcast.common.db.base import utcnow
from overcast.compute import aggregates
from overcast.compute.models.aggregates import AggregateHost
from overcast.compute.models.hosts import ComputeNode, Service
from overcast.compute.models.instances import Instance

COMPUTE = "nova-compute"


@dataclass(frozen=True)
class ServiceView:
    row: Service
    zone: str
    up: bool


def is_up(service: Service, settings: ComputeSettings, now: dt.datetime | None = None) -> bool:
    if service.forced_down or service.last_seen_up is None:
        return False
    elapsed = ((now or utcnow()) - service.last_seen_up).total_seconds()
    return elapsed <= settings.service_down_time


async def list_services(
    session: AsyncSession,
    settings: ComputeSettings,
    *,
    host: str | None = None,
    binary: str | None = None,
) -> list[ServiceView]:
    """Every service (optionally of one host or binary) with its zone and state."""
    stmt = select(Service).order_by(Service.id)
    if host is not None:
        stmt = stmt.where(Service.host == host)
    if binary is not None:
        stmt = stmt.where(Service.binary == binary)
    rows = list((await session.execute(stmt)).scalars())
    zones = await aggregates.host_zones(session, sorted({r.host for r in rows}))
    now = utcnow()
    out = []
    for row in rows:
        if row.binary == COMPUTE:
            found = zones.get(row.host)
            zone = ",".join(sorted(found)) if found else settings.default_availability_zone
        else:
            zone = aggregates.INTERNAL_AZ
        out.append(ServiceView(row, zone, is_up(row, settings, now)))
    return out


async def available_zones(session: AsyncSession, settings: ComputeSettings) -> set[str]:
    """Zones a server may be booted into: those with an enabled compute service (for Nova's
    400 "The requested availability zone is not available")."""
    views = await list_services(session, settings, binary=COMPUTE)
    return {z for v in views if not v.row.disabled for z in v.zone.split(",")}


async def find(session: AsyncSession, service_id: str) -> Service:
    """A service by its UUID (2.53+) or integer id; NotFound otherwise."""
    column = Service.id if service_id.isdigit() else Service.uuid
    value: int | str = int(service_id) if service_id.isdigit() else service_id
    found: Service | None = await session.scalar(select(Service).where(column == value))
    if found is None:
        raise errors.NotFound(f"Service {service_id} could not be found.")
    return found


async def find_by_host(session: AsyncSession, host: str, binary: str) -> Service:
    stmt = select(Service).where(Service.host == host, Service.binary == binary)
    found: Service | None = await session.scalar(stmt)
    if found is None:
        raise errors.NotFound(f"Service {binary} on host {host} could not be found.")
    return found


def set_status(service: Service, disabled: bool, reason: str | None = None) -> None:
    service.disabled = disabled
    service.disabled_reason = reason if disabled else None
    service.updated_at = utcnow()


def set_forced_down(service: Service, forced_down: bool) -> None:
    service.forced_down = forced_down
    service.updated_at = utcnow()


async def remove(session: AsyncSession, service: Service) -> None:
    """Delete a service; a compute service takes its nodes and aggregate memberships along,
    and refuses (409) while instances still run on its host."""
    if service.binary == COMPUTE:
        busy = await session.scalar(
            select(Instance.id)
            .where(Instance.host == service.host, Instance.deleted.is_(False))
            .limit(1)
        )
        if busy is not None:
            raise errors.Conflict(
                f"Unable to delete compute service that is hosting instances. Migrate or delete "
                f"the instances first and try again. (host {service.host})"
            )
        await session.execute(delete(ComputeNode).where(ComputeNode.host == service.host))
        await session.execute(delete(AggregateHost).where(AggregateHost.host == service.host))
    await session.delete(service)
