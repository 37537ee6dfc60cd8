"""The service catalog as tokens carry it, built from the services and endpoints tables.

Building it costs two queries, so it is kept in memory until a service or endpoint changes;
a change is announced on the bus (topic `identity-catalog`) so every identity server drops it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common.bus import Bus
from overcast.identity import models

TOPIC = "identity-catalog"


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


_TEMPLATES = ("%(project_id)s", "$(project_id)s", "%(tenant_id)s", "$(tenant_id)s")


def for_project(built: list[dict[str, Any]], project_id: str | None) -> list[dict[str, Any]]:
    """The catalog as one token sees it: `%(project_id)s` in endpoint URLs (the object store's
    `AUTH_%(project_id)s`) replaced by the token's project; such endpoints are left out of
    tokens without a project, as Keystone does."""
    out = []
    for service in built:
        endpoints = []
        for ep in service["endpoints"]:
            url = ep["url"]
            if any(t in url for t in _TEMPLATES):
                if not project_id:
                    continue
                for template in _TEMPLATES:
                    url = url.replace(template, project_id)
                ep = {**ep, "url": url}
            endpoints.append(ep)
        out.append({**service, "endpoints": endpoints})
    return out


class Catalog:
    """The built catalog, cached until `changed` is announced. Callers must not mutate it."""

    def __init__(self, bus: Bus) -> None:
        self._cached: list[dict[str, Any]] | None = None
        self._generation = 0
        bus.serve(TOPIC, self)

    async def get(self, session: AsyncSession) -> list[dict[str, Any]]:
        if self._cached is not None:
            return self._cached
        generation = self._generation
        built = await build(session)
        if generation == self._generation:  # nothing changed while it was being built
            self._cached = built
        return built

    async def changed(self, _ctx: dict[str, Any], **_detail: Any) -> None:
        """Bus endpoint: a service or endpoint changed."""
        self._cached = None
        self._generation += 1


async def announce(bus: Bus) -> None:
    """Tell every identity server that the catalog changed (after the change is committed)."""
    await bus.fanout(TOPIC, "changed", {})
