"""Builds the whole cloud as one ASGI app: each service mounted at its prefix, identity at the
root, the readiness probe at `/healthcheck`; on start, migrations run, identity bootstraps the
catalog and the services' units start; on stop, work in flight settles first.
`overcast up` builds all of it in one process; `overcast serve` (`overcast.serve`) the roles
one process runs.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import multiprocessing
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from overcast import health, services
from overcast.common import bus, log
from overcast.common.bus.local import LocalBus
from overcast.common.config import Settings
from overcast.common.db import locks
from overcast.common.db.session import Database
from overcast.common.http.inprocess import InProcess
from overcast.common.service import ROLES, Runtime, Service, Unit
from overcast.common.trace import recorder, store

LOG = log.get(__name__)


@dataclass
class Cloud:
    app: ASGIApp
    runtime: Runtime
    services: list[Service]
    health: health.Health
    lifespan: Callable[[object], AbstractAsyncContextManager[None]]  # start..stop, no HTTP


def build(
    settings: Settings,
    on_ready: list[Callable[[], None]] | None = None,
    progress: Callable[[str], None] | None = None,
    roles: frozenset[str] = frozenset(ROLES),
    apis: frozenset[str] | None = None,
) -> Cloud:
    """The cloud's ASGI app, or the part of it one process runs: the REST APIs of `apis`
    (every service when None) if `roles` has "api", and the units of each other role in
    `roles`. `on_ready` runs once everything has started; `progress` hears what a (first)
    start is doing, for people watching it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    pool = settings.database
    if "api" not in roles:
        pool = pool.model_copy(update={"pool_timeout": pool.worker_pool_timeout})
    runtime = Runtime(
        settings=settings,
        db=Database(settings.db_url, pool),
        bus=bus.connect(settings),
        roles=roles,
    )
    if progress is not None:
        runtime.progress = progress
    probe = health.Health()
    registry = services.all_services()
    runtime.catalog = [e for s in registry for e in s.catalog_entries(settings.base_url)]
    runtime.service_roles = tuple(r for s in registry for r in s.identity_roles(settings))
    # Identity builds first: it supplies the token validator every other service checks with.
    # Every service builds (its units use what its build makes); only the served ones mount.
    apps = [(s, s.build(runtime)) for s in registry]
    serving = "api" in roles
    mounts = sorted(
        [(s, a) for s, a in apps if serving and (apis is None or s.name in apis)],
        key=lambda pair: len(pair[0].prefix),
        reverse=True,
    )
    declared = [s.units(runtime) for s in registry]
    units = [(role, u[role]) for role in ROLES if role in roles for u in declared if role in u]

    @asynccontextmanager
    async def lifespan(_app: object) -> AsyncIterator[None]:
        await runtime.db.wait_reachable()
        await runtime.bus.start()
        await store.upgrade(runtime.db)
        for service in registry:
            await service.upgrade(runtime)
        tracing = await recorder.start(settings, runtime.db.serialised())
        if serving:
            # API processes starting together (workers, nodes) seed and bootstrap in turn.
            async with locks.held(runtime.db, "overcast-api-start"):
                for service in registry:
                    runtime.progress(f"starting {service.name}")
                    await service.start(runtime)
        started: list[Unit] = []
        try:
            for role, unit in units:
                runtime.progress(f"starting the {role} role")
                await unit.start()
                started.append(unit)
            await runtime.bus.ready()
            for callback in on_ready or []:
                callback()
            probe.state = "ready"
            _release_startup_memory()
            LOG.info(
                "overcast is ready",
                extra={"fields": {"url": settings.base_url, "roles": sorted(roles)}},
            )
            yield
        finally:
            probe.state = "stopping"
            await _settle(runtime)
            for unit in reversed(started):
                await unit.stop()
            if serving:
                for service in reversed(registry):
                    await service.stop()
            await tracing.stop()
            await runtime.bus.close()
            await runtime.db.close()

    apps_by_prefix = [(health.PATH, probe), *((s.prefix, a) for s, a in mounts)]
    root = PrefixDispatcher(apps_by_prefix, Starlette(lifespan=lifespan))
    if serving:
        runtime.in_process = InProcess(settings.base_url, [s.prefix for s, _ in mounts], root)
    return Cloud(app=root, runtime=runtime, services=registry, health=probe, lifespan=lifespan)


async def _settle(runtime: Runtime) -> None:
    """Let the work in flight on the bus (builds, moves) finish, up to `shutdown_timeout`;
    whatever is still running then is cancelled and reconciled on the next start."""
    timeout = runtime.settings.shutdown_timeout
    try:
        await asyncio.wait_for(runtime.bus.drain(), timeout)
    except TimeoutError:
        LOG.warning("work still in flight after %ss; stopping it", timeout)


class PrefixDispatcher:
    """The root ASGI app: start-up and shutdown go to `lifecycle`; each request goes to the
    service whose prefix its path starts with (longest first).

    A bare prefix (`GET /image`) reaches its service as `/image/`, so version discovery works
    at the catalog URL with or without a trailing slash.
    """

    def __init__(self, apps: list[tuple[str, ASGIApp]], lifecycle: ASGIApp) -> None:
        self.apps = apps
        self.lifecycle = lifecycle
        # `prefix + "/"` once here rather than for every request and prefix.
        self._routes = [(prefix, prefix + "/", app) for prefix, app in apps]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifecycle(scope, receive, send)
            return
        path: str = scope["path"]
        for prefix, below, app in self._routes:
            if not prefix:
                await app(scope, receive, send)
                return
            if path == prefix or path.startswith(below):
                scope = dict(scope, root_path=scope.get("root_path", "") + prefix)
                if path == prefix:
                    scope["path"] = prefix + "/"
                await app(scope, receive, send)
                return


def _release_startup_memory() -> None:
    """Hand back to the system what start-up (migrations, bootstrap) allocated and freed."""
    gc.collect()
    gc.freeze()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


async def upgrade_all(settings: Settings) -> None:
    """Apply every service's migrations, in registry order."""
    runtime = Runtime(
        settings=settings, db=Database(settings.db_url, settings.database), bus=LocalBus()
    )
    try:
        await runtime.db.wait_reachable()
        await store.upgrade(runtime.db)
        for service in services.all_services():
            await service.upgrade(runtime)
    finally:
        await runtime.db.close()


def _upgrade_child(settings: Settings) -> None:
    # A Ctrl-C reaches the whole process group: the migrations finish, the parent stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(upgrade_all(settings))


def upgrade_in_child(settings: Settings) -> None:
    """Run the migrations in a forked child before the server starts.

    The child inherits every imported module, so it costs little; the server itself then
    never imports Alembic (about 11 MB that would stay resident for the life of the process).
    On restarts nothing needs migrating and the check in `Service.upgrade` is all that runs.
    """
    child = multiprocessing.get_context("fork").Process(
        target=_upgrade_child, args=(settings,), name="overcast-migrate"
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"migrations failed (exit code {child.exitcode})")
