"""The compute service (Nova): the v2.1 API at `/compute`, and its scheduler, conductor and
agents: the units of the "scheduler", "conductor" and "compute" roles (`units`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from overcast.clients import base as clients
from overcast.clients.identity import ServiceToken
from overcast.common.http import faults
from overcast.common.http.policy import Policy
from overcast.common.service import Runtime, Service, Unit, api_app
from overcast.compute import flavors, policies, units
from overcast.compute.api import middleware, routers, versions
from overcast.compute.remote import Remote
from overcast.compute.state import ComputeState


class ComputeService(Service):
    name = "compute"
    catalog_type = "compute"
    catalog_name = "nova"
    prefix = "/compute"
    migrations = Path(__file__).parent / "migrations"

    def __init__(self) -> None:
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

    async def stop(self) -> None:
        await clients.close()

    def units(self, runtime: Runtime) -> dict[str, Unit]:
        assert self.state is not None
        settings, db = runtime.settings, self.state.db
        return {
            "scheduler": units.SchedulerUnit(settings, db, runtime.bus),
            "conductor": units.ConductorUnit(settings, db, runtime.bus),
            "compute": units.ComputeUnit(settings, runtime.bus, self.state.remote),
        }
