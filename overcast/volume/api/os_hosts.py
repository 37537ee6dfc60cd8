"""/v3/os-hosts (admins): the block storage services by host, and a volume host's usage per
project (`openstack volume host ...` of old), as Cinder's hosts extension answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import func, select

from overcast.common import errors
from overcast.volume.api.deps import Req, req
from overcast.volume.api.views import ts
from overcast.volume.models.hosts import Service
from overcast.volume.models.volumes import Snapshot, Volume
from overcast.volume.scheduler import pools

router = APIRouter(prefix="/v3")
RULE = "volume_extension:hosts"


@router.get("/os-hosts")
async def index(r: Req = Depends(req)) -> Any:
    r.enforce(RULE)
    down_after = r.state.settings.volume.service_down_time
    async with r.state.db.reader() as session:
        rows = (await session.execute(select(Service).order_by(Service.id))).scalars()
        return {
            "hosts": [
                {
                    "service-status": "available" if pools.is_up(s, down_after) else "unavailable",
                    "service": s.binary,
                    "zone": s.availability_zone,
                    "service-state": "disabled" if s.disabled else "enabled",
                    "host_name": s.host,
                    "last-update": ts(s.updated_at),
                }
                for s in rows
            ]
        }


@router.get("/os-hosts/{host}")
async def show(host: str, r: Req = Depends(req)) -> Any:
    r.enforce(RULE)
    async with r.state.db.reader() as session:
        service = await session.scalar(
            select(Service).where(Service.host == host, Service.binary == pools.BINARY)
        )
        if service is None or service.disabled:
            raise errors.NotFound(f"Host {host} could not be found.")
        here = (Volume.host == host) | Volume.host.startswith(f"{host}#")
        volumes = await session.execute(
            select(
                Volume.project_id, func.count(Volume.id), func.coalesce(func.sum(Volume.size), 0)
            )
            .where(here, Volume.deleted.is_(False))
            .group_by(Volume.project_id)
        )
        snaps = await session.execute(
            select(
                Snapshot.project_id,
                func.count(Snapshot.id),
                func.coalesce(func.sum(Snapshot.volume_size), 0),
            )
            .join(Volume, Volume.id == Snapshot.volume_id)
            .where(here, Snapshot.deleted.is_(False))
            .group_by(Snapshot.project_id)
        )
        usage: dict[str, list[int]] = {}
        for project, count, size in volumes.tuples():
            usage.setdefault(project, [0, 0, 0, 0])[:2] = [int(count), int(size)]
        for project, count, size in snaps.tuples():
            usage.setdefault(project, [0, 0, 0, 0])[2:] = [int(count), int(size)]
    total = [sum(u[i] for u in usage.values()) for i in range(4)]
    return {
        "host": [
            _resource(host, "(total)", total),
            *(_resource(host, p, u) for p, u in sorted(usage.items())),
        ]
    }


def _resource(host: str, project: str, usage: list[int]) -> dict[str, Any]:
    return {
        "resource": {
            "host": host,
            "project": project,
            "volume_count": str(usage[0]),
            "total_volume_gb": str(usage[1]),
            "snapshot_count": str(usage[2]),
            "total_snapshot_gb": str(usage[3]),
        }
    }
