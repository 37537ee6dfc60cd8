"""Builds the whole cloud as one ASGI app: each service mounted at its prefix, identity at the
root; on start, migrations run, identity bootstraps the catalog and the services' agents start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.routing import Mount

from overcast import services
from overcast.common import log
from overcast.common.bus.local import LocalBus
from overcast.common.config import Settings
from overcast.common.db.session import Database
from overcast.common.service import CatalogEntry, Runtime, Service

LOG = log.get(__name__)


@dataclass
class Cloud:
    app: Starlette
    runtime: Runtime
    services: list[Service]


def build(settings: Settings, on_ready: list | None = None) -> Cloud:
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    runtime = Runtime(settings=settings, db=Database(settings.db_url), bus=LocalBus())
    registry = services.all_services()
    runtime.catalog = [
        CatalogEntry(s.catalog_type, s.catalog_name, s.endpoint_url(settings.base_url))
        for s in registry
    ]
    # Identity builds first: it supplies the token validator every other service checks with.
    apps = [(s, s.build(runtime)) for s in registry]
    mounts = sorted(apps, key=lambda pair: len(pair[0].prefix), reverse=True)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        for service in registry:
            await service.upgrade(runtime)
        for service in registry:
            await service.start(runtime)
        for callback in on_ready or []:
            callback()
        LOG.info("overcast is ready", extra={"fields": {"url": settings.base_url}})
        try:
            yield
        finally:
            for service in reversed(registry):
                await service.stop()
            await runtime.bus.close()
            await runtime.db.close()

    routes = [Mount(s.prefix, app=a) for s, a in mounts]
    return Cloud(
        app=Starlette(routes=routes, lifespan=lifespan), runtime=runtime, services=registry
    )
