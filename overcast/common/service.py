"""The contract every service implements, and the runtime the app hands it.

`overcast.app` builds one `Runtime`, asks each `Service` for its ASGI app and catalog entry,
mounts it at its prefix, runs its migrations and starts its agents. Services never see each
other: what they share is in the runtime (settings, database, bus, token validator, catalog).
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from fastapi import FastAPI

from overcast.common import errors
from overcast.common.bus import Bus
from overcast.common.config import Settings
from overcast.common.db import migrate
from overcast.common.db.session import Database
from overcast.common.http import faults, middleware, openapi
from overcast.common.http.auth import TokenValidator
from overcast.common.http.direct import ServiceApp
from overcast.common.http.inprocess import InProcess


@dataclass(frozen=True)
class CatalogEntry:
    type: str  # e.g. "image"
    name: str  # e.g. "glance"
    url: str  # the public endpoint


# The process roles, in start order: `overcast up` runs them all in one process, `overcast serve
# --role R[,R...]` some of them. "api" serves the REST APIs; each other role runs the units
# that services declare for it (`Service.units`).
ROLES = ("api", "scheduler", "conductor", "compute", "network", "volume", "object")


class Unit(Protocol):
    """A part of a service that runs outside its API: a scheduler, a conductor, an agent."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Gathered:
    """A unit made of several of the same kind (one agent per host, say), made by `make` when
    it starts and started and stopped together."""

    def __init__(self, make: Callable[[], Sequence[Unit]]) -> None:
        self.make = make
        self.parts: Sequence[Unit] = ()

    async def start(self) -> None:
        self.parts = self.make()
        await asyncio.gather(*(part.start() for part in self.parts))

    async def stop(self) -> None:
        await asyncio.gather(*(part.stop() for part in self.parts))


@dataclass
class Runtime:
    settings: Settings
    db: Database
    bus: Bus
    catalog: list[CatalogEntry] = field(default_factory=list)
    # Identity roles the services' authorisation names beyond Keystone's own (`Service.
    # identity_roles`): identity's bootstrap makes them, as DevStack does for each service.
    service_roles: tuple[str, ...] = ()
    validator: TokenValidator | None = None
    # Says what a long start is doing ("starting compute", an image build) to whoever
    # watches `overcast up`; silent unless the command asks (it does on a first start).
    progress: Callable[[str], None] = lambda _message: None

    # The bootstrap projects (admin, service, demo) by name, once identity has started: the
    # other services' bootstraps make their default resources for them.
    projects: dict[str, str] = field(default_factory=dict)
    roles: frozenset[str] = frozenset(ROLES)  # what this process runs
    # The REST APIs this process serves, reachable in memory (set when the app is built).
    in_process: InProcess | None = None

    def token_validator(self) -> TokenValidator:
        if self.validator is None:
            raise errors.ServiceUnavailable("identity is not ready")
        return self.validator

    def endpoint(self, service_type: str) -> str:
        """The public URL of `service_type` (e.g. "image") in this cloud's catalog."""
        for entry in self.catalog:
            if entry.type == service_type:
                return entry.url
        raise errors.ServiceUnavailable(f"no {service_type} endpoint in the catalog")


class Service(abc.ABC):
    name: ClassVar[str]  # the subpackage, e.g. "image"
    catalog_type: ClassVar[str]  # e.g. "image"
    catalog_name: ClassVar[str]  # e.g. "glance"
    prefix: ClassVar[str]  # mount point, e.g. "/image"; "" for identity
    migrations: ClassVar[Path | None] = None

    def endpoint_url(self, base_url: str) -> str:
        """The catalog URL of this service under `base_url`."""
        return base_url + self.prefix

    def catalog_entries(self, base_url: str) -> list[CatalogEntry]:
        """What the service adds to the catalog (one entry; some services have two types)."""
        return [CatalogEntry(self.catalog_type, self.catalog_name, self.endpoint_url(base_url))]

    def identity_roles(self, settings: Settings) -> tuple[str, ...]:
        """Roles this service grants rights to that Keystone's bootstrap does not make (Swift's
        `ResellerAdmin`); identity makes them on its first start. Default: none."""
        return ()

    @abc.abstractmethod
    def build(self, runtime: Runtime) -> FastAPI:
        """The service's ASGI app (see `api_app`)."""

    async def upgrade(self, runtime: Runtime) -> None:
        """Apply this service's migrations (its own Alembic branch)."""
        if self.migrations is not None:
            await migrate.upgrade(runtime.db, self.name, self.migrations)

    async def start(self, runtime: Runtime) -> None:  # noqa: B027 - optional hook
        """The API side's start after migrations ran (seed data, recover what this API was
        doing), in processes of the "api" role only. Default: nothing."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Stop what `start` started. Default: nothing."""

    def units(self, runtime: Runtime) -> dict[str, Unit]:
        """This service's units by role (see ROLES; e.g. {"scheduler": ..., "compute": ...}),
        built after `build`. A process starts the units of the roles it runs, in ROLES order,
        after every `start`, and stops them in reverse before any `stop`. Default: none."""
        return {}


def api_app(
    runtime: Runtime,
    *,
    title: str,
    render: faults.Render,
    public: middleware.PublicPath = lambda _m, _p: False,
    request_id_headers: tuple[str, ...] = (),
    new_request_id: Callable[[], str] = middleware.new_request_id,
    streams: middleware.PublicPath = lambda _m, _p: False,
) -> ServiceApp:
    """A FastAPI app in the shape every service shares: errors in its dialect, request ids
    (from `new_request_id`, echoed in `request_id_headers` too), one body limit whatever the
    content type (not on `streams` requests, whose bodies go to a store), no redirects for a
    trailing slash (404, as OpenStack answers) and token authentication. Its OpenAPI
    description (`openapi.json` under the service's prefix) is public and declares every path
    parameter and request body, so the API can be fuzzed. Some requests may be answered past
    FastAPI's layers (`ServiceApp.answer_directly`)."""
    # Overcast configures no OpenTelemetry: switching FastAPI's native telemetry off spares
    # every request its look-up of the global tracer, meter and logger providers.
    app = ServiceApp(
        title=title,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.router.redirect_slashes = False
    openapi.install(app)
    faults.install(app, render)
    guard: dict[str, Any] = {
        "render": render,
        "limit": runtime.settings.max_request_body,
        "validator": runtime.token_validator,
        "public": lambda method, path: (
            (method == "GET" and path.endswith("/openapi.json")) or public(method, path)
        ),
        "auth_url": lambda: runtime.settings.base_url + "/v3",
        "extra_headers": request_id_headers,
        "new_id": new_request_id,
        "streams": streams,
    }
    app.add_middleware(middleware.ApiMiddleware, **guard)
    app.render = render
    app.guarded = lambda inner: middleware.ApiMiddleware(inner, **guard)
    return app
