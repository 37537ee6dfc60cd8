"""The service catalog as tokens carry it, built from the services and endpoints tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.identity import models


async def build(session: AsyncSession) -> list[dict[str, Any]]:
    services = (
        await session.execute(select(models.Service).where(models.Service.enabled.is_(True)))
    ).scalars()
    endpoints = (
        await session.execute(select(models.Endpoint).where(models.Endpoint.enabled.is_(True)))
    ).scalars()
    by_service: dict[str, list[dict[str, Any]]] = {}
    for ep in endpoints:
        by_service.setdefault(ep.service_id, []).append(
            {
                "id": ep.id,
                "interface": ep.interface,
                "region": ep.region_id,
                "region_id": ep.region_id,
                "url": ep.url,
            }
        )
    return [
        {"id": s.id, "type": s.type, "name": s.name or "", "endpoints": by_service.get(s.id, [])}
        for s in services
    ]
