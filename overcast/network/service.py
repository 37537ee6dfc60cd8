"""The network service (Neutron v2.0) at `/network`; catalog type `network`, name `neutron`.

Its "network" role runs the network agent of each host this node serves (`agent.NetworkAgent`);
the API's start bootstraps, once, the networks DevStack makes (`bootstrap`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from overcast.common.config import Settings
from overcast.common.http import faults
from overcast.common.http.policy import Policy
from overcast.common.service import Gathered, Runtime, Service, Unit, api_app
from overcast.network import bootstrap, policies
from overcast.network.agent import NetworkAgent
from overcast.network.api import answer_directly, routers
from overcast.network.notifier import NovaNotifier
from overcast.network.state import NetworkState

PREFIX = "/network"


def _public(method: str, path: str) -> bool:
    """Version discovery needs no token."""
    return method == "GET" and path.rstrip("/") in (PREFIX, "")


def agent_hosts(settings: Settings) -> list[str]:
    """The hosts whose network agents run in this process: those configured, else the fake
    compute hosts this process runs (each compute host has its L2 agent, as in Neutron)."""
    if settings.network.agent_hosts:
        return list(settings.network.agent_hosts)
    compute = settings.compute
    if compute.driver == "fake":
        return [f"{compute.host_prefix}{i}" for i in range(1, compute.fake_hosts + 1)]
    return [settings.host_name]


class NetworkService(Service):
    name = "network"
    catalog_type = "network"
    catalog_name = "neutron"
    prefix = PREFIX
    migrations = Path(__file__).parent / "migrations"

    def __init__(self) -> None:
        self.state: NetworkState | None = None

    def build(self, runtime: Runtime) -> FastAPI:
        settings = runtime.settings
        app = api_app(
            runtime, title="Overcast Network (Neutron v2.0)", render=faults.neutron, public=_public
        )
        self.state = NetworkState(
            settings=settings,
            db=runtime.db.serialised(),
            bus=runtime.bus,
            policy=Policy("network", policies.DEFAULTS, settings.policy_dir),
            endpoint=self.endpoint_url(settings.base_url),
        )
        app.state.network = self.state
        for router in routers():
            app.include_router(router)
        answer_directly(app)
        return app

    async def start(self, runtime: Runtime) -> None:
        assert self.state is not None
        if runtime.settings.network.bootstrap:
            await bootstrap.run(self.state, runtime)

    def units(self, runtime: Runtime) -> dict[str, Unit]:
        """The "network" role: the network agent of each host this node serves."""
        state = self.state
        assert state is not None

        def agents() -> list[NetworkAgent]:
            notifier = NovaNotifier(runtime.settings, runtime.endpoint)
            return [
                NetworkAgent(runtime.settings, state.db, runtime.bus, host, notifier, state)
                for host in agent_hosts(runtime.settings)
            ]

        return {"network": Gathered(agents)}
