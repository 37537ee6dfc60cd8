"""The pools the scheduler chooses among: each live, enabled back end's pools as its agent last
reported them, with the capacity already allocated to volumes counted from the database (so two
volumes scheduled in a row see each other before either exists on disk)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common.db.base import utcnow
from overcast.volume.models.hosts import Service
from overcast.volume.models.volumes import Volume

BINARY = "cinder-volume"


@dataclass
class Pool:
    host: str  # node@backend#pool, what a volume's `host` becomes
    backend: str  # node@backend
    availability_zone: str
    capabilities: dict[str, Any]  # the driver's PoolStats with volume_backend_name and extras
    allocated_capacity_gb: int

    @property
    def provisioned_gb(self) -> float:
        return max(
            float(self.capabilities.get("provisioned_capacity_gb") or 0),
            float(self.allocated_capacity_gb),
        )


def is_up(service: Service, down_after: float, now: dt.datetime | None = None) -> bool:
    if service.last_seen_up is None:
        return False
    return ((now or utcnow()) - service.last_seen_up).total_seconds() <= down_after


async def live(session: AsyncSession, down_after: float) -> list[Pool]:
    """Every pool of every back end that is up and enabled."""
    services = (
        await session.execute(
            select(Service).where(Service.binary == BINARY, Service.disabled.is_(False))
        )
    ).scalars()
    allocated = dict(
        (
            await session.execute(
                select(Volume.host, func.coalesce(func.sum(Volume.size), 0))
                .where(Volume.deleted.is_(False), Volume.host.is_not(None))
                .group_by(Volume.host)
            )
        ).all()
    )
    now = utcnow()
    found = []
    for service in services:
        if not is_up(service, down_after, now):
            continue
        for name, stats in (service.capabilities or {}).items():
            host = f"{service.host}#{name}"
            found.append(
                Pool(
                    host=host,
                    backend=service.host,
                    availability_zone=service.availability_zone,
                    capabilities=stats,
                    allocated_capacity_gb=int(allocated.get(host, 0)),
                )
            )
    return found
