"""The block storage service (Cinder v3) mounted at /volume; catalog types `block-storage` and
`volumev3` at `/volume/v3/%(project_id)s`, as Cinder's endpoint is. On start it seeds the
default volume type; its "volume" role runs the scheduler and one agent per back end."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from overcast.clients import base as clients
from overcast.common.http import faults
from overcast.common.http.microversions import MicroversionMiddleware, ProjectPathMiddleware
from overcast.common.http.policy import Policy
from overcast.common.service import CatalogEntry, Runtime, Service, Unit, api_app
from overcast.volume import policies, types
from overcast.volume.api import routers, versions
from overcast.volume.api.deps import STATE_KEY
from overcast.volume.state import VolumeState
from overcast.volume.units import Units


class VolumeService(Service):
    name = "volume"
    catalog_type = "block-storage"
    catalog_name = "cinder"
    prefix = versions.PREFIX
    migrations = Path(__file__).parent / "migrations"

    def __init__(self) -> None:
        self.state: VolumeState | None = None

    def endpoint_url(self, base_url: str) -> str:
        return f"{base_url}{self.prefix}/v3/%(project_id)s"

    def catalog_entries(self, base_url: str) -> list[CatalogEntry]:
        url = self.endpoint_url(base_url)
        return [
            CatalogEntry("block-storage", "cinder", url),
            CatalogEntry("volumev3", "cinderv3", url),
        ]

    def build(self, runtime: Runtime) -> FastAPI:
        settings = runtime.settings
        app = api_app(
            runtime,
            title="Overcast Block Storage (Cinder v3)",
            render=faults.cinder,
            public=versions.public,
        )
        app.add_middleware(
            MicroversionMiddleware,
            versions=versions.RANGE,
            render=faults.cinder,
            api_prefix="/v3",
            state_key=STATE_KEY,
        )
        app.add_middleware(ProjectPathMiddleware, pattern="/v3", api_prefix="/v3")
        self.state = VolumeState(
            settings=settings,
            db=runtime.db.serialised(),
            bus=runtime.bus,
            policy=Policy("volume", policies.DEFAULTS, settings.policy_dir),
            endpoint=runtime.endpoint,
        )
        app.state.volume = self.state
        for router in routers():
            app.include_router(router)
        return app

    async def start(self, runtime: Runtime) -> None:
        assert self.state is not None
        async with self.state.db.session() as session:
            await types.seed(session)

    async def stop(self) -> None:
        await clients.close()

    def units(self, runtime: Runtime) -> dict[str, Unit]:
        """The "volume" role: the scheduler and one agent per back end (`volume.units`)."""
        assert self.state is not None
        return {"volume": Units(runtime.settings, self.state.db, runtime.bus, runtime.endpoint)}
