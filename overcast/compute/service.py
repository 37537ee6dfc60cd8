"""The compute service (Nova): the v2.1 API at `/compute`, and its scheduler, conductor and
agents started in this process (`units.Units`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from overcast.clients import base as clients
from overcast.clients.identity import ServiceToken
from overcast.common.http import faults
from overcast.common.http.policy import Policy
from overcast.common.service import Runtime, Service, api_app
from overcast.compute import flavors, policies
from overcast.compute.api import middleware, routers, versions
from overcast.compute.remote import Remote
from overcast.compute.state import ComputeState
from overcast.compute.units import Units


class ComputeService(Service):
    name = "compute"
    catalog_type = "compute"
    catalog_name = "nova"
    prefix = "/compute"
    migrations = Path(__file__).parent / "migrations"

    def __init__(self) -> None:
        self.units: Units | None = None
        self.state: ComputeState | None = None

    def endpoint_url(self, base_url: str) -> str:
        return base_url + self.prefix + "/v2.1"

    def build(self, runtime: Runtime) -> FastAPI:
        settings = runtime.settings
        app = api_app(
            runtime,
            title="Overcast Compute (Nova v2.1)",
            render=faults.nova,
            public=versions.public,
            request_id_headers=("x-compute-request-id",),
        )
        app.add_middleware(middleware.microversions, versions=versions.RANGE)
        app.add_middleware(middleware.project_paths)
        self.state = ComputeState(
            settings=settings,
            db=runtime.db.serialised(),
            bus=runtime.bus,
            policy=Policy("compute", policies.all_rules(), settings.policy_dir),
            remote=Remote(runtime.endpoint, ServiceToken(settings).get),
        )
        app.state.compute = self.state
        for router in routers():
            app.include_router(router)
        return app

    async def start(self, runtime: Runtime) -> None:
        async with runtime.db.session() as session:
            await flavors.seed(session)
        assert self.state is not None
        self.units = Units(runtime.settings, self.state.db, runtime.bus, self.state.remote)
        await self.units.start()

    async def stop(self) -> None:
        if self.units is not None:
            await self.units.stop()
        await clients.close()
