"""`overcast serve --role R[,R...]`: the processes of one node of a multi-node cloud.

Roles are OpenStack's process units (`common.service.ROLES`; "controller" is api + scheduler +
conductor). The api role may run as `--workers N` processes sharing one listening socket; the
other roles of the same command run in one more process. With one process there is no
supervisor; with more, this process forks them, restarts one that dies and stops them all on
SIGTERM/SIGINT. Migrations run once, before any process starts (and under a database lock, so
nodes starting together are safe). Called by `overcast.cli`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Callable

from overcast.common import config, log, parent
from overcast.common.listener import SERVER_KEEP_ALIVE, tcp_listener
from overcast.common.service import ROLES

LOG = log.get(__name__)

ALIASES = {"controller": ("api", "scheduler", "conductor"), "all": ROLES}


def parse_roles(text: str) -> frozenset[str]:
    roles: set[str] = set()
    for name in filter(None, (part.strip() for part in text.split(","))):
        if name in ALIASES:
            roles.update(ALIASES[name])
        elif name in ROLES:
            roles.add(name)
        else:
            known = ", ".join([*ROLES, *ALIASES])
            raise SystemExit(f"overcast serve: unknown role {name!r} (roles: {known})")
    if not roles:
        raise SystemExit("overcast serve: --role names at least one role")
    return frozenset(roles)


def plan(roles: frozenset[str], workers: int) -> list[frozenset[str]]:
    """The roles of each process: `workers` API processes, the other roles in one more."""
    if "api" not in roles or workers <= 1:
        return [roles]
    rest = roles - {"api"}
    return [frozenset({"api"})] * workers + ([rest] if rest else [])


def add_parser(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: Callable[[argparse.ArgumentParser], None],
    settings_of: Callable[[argparse.Namespace], config.Settings],
) -> None:
    serve = sub.add_parser("serve", help="run some roles of a multi-node cloud")
    common(serve)
    serve.add_argument(
        "--role", required=True, help=f"comma-separated: {', '.join([*ROLES, *ALIASES])}"
    )
    serve.add_argument("--services", help="the APIs the api role serves (default: all)")
    serve.add_argument("--workers", type=int, default=1, help="API processes (default 1)")
    serve.add_argument("--host", help="listen address of the api role")
    serve.add_argument("--port", type=int, help="listen port of the api role")
    serve.add_argument("--log-level", help="DEBUG, INFO, WARNING...")
    serve.set_defaults(func=lambda args: run(args, settings_of(args)))


def run(args: argparse.Namespace, settings: config.Settings) -> int:
    from overcast import app

    roles = parse_roles(args.role)
    apis = frozenset(s.strip() for s in args.services.split(",")) if args.services else None
    processes = plan(roles, args.workers)
    log.setup(settings.log_level)
    if settings.db_url.startswith("sqlite") and len(processes) > 1:
        raise SystemExit(
            f"overcast serve: {len(processes)} processes cannot share SQLite "
            f"({settings.db_url}): SQLite takes one writing process. Set database_url to "
            "PostgreSQL or MariaDB, or run one process (--workers 1)."
        )
    if roles & {"compute", "network"}:  # the agents' hosts follow the compute driver
        from overcast.compute import drivers  # only on such a node: it probes the host
        from overcast.network import drivers as network_drivers

        LOG.info("overcast serve: compute driver %s", drivers.resolve(settings))
        LOG.info("overcast serve: network driver %s", network_drivers.resolve(settings))
    app.upgrade_in_child(settings)
    listener = bind(settings.host, settings.port) if "api" in roles else None
    if len(processes) == 1:
        return run_process(settings, processes[0], apis, listener)
    return supervise(settings, processes, apis, listener)


def bind(host: str, port: int) -> socket.socket:
    sock = tcp_listener(host, port)
    sock.set_inheritable(True)
    return sock


def run_process(
    settings: config.Settings,
    roles: frozenset[str],
    apis: frozenset[str] | None,
    listener: socket.socket | None,
) -> int:
    """Run one process's roles until SIGTERM/SIGINT."""
    from overcast import app, clouds

    def ready() -> None:
        path = clouds.write(settings)
        LOG.info("overcast serve: the API is up; clients: OS_CLIENT_CONFIG_FILE=%s", path)

    cloud = app.build(settings, on_ready=[ready] if "api" in roles else [], roles=roles, apis=apis)
    if "api" in roles:
        import uvicorn

        assert listener is not None
        server = uvicorn.Server(
            uvicorn.Config(
                cloud.app,
                log_level="warning",
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=5,
                timeout_keep_alive=SERVER_KEEP_ALIVE,
            )
        )
        server.run(sockets=[listener])
        return 0 if server.started else 1

    async def headless() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal(_signum: int, _frame: object) -> None:
            loop.call_soon_threadsafe(stop.set)

        # Not `loop.add_signal_handler`: its wakeup fd is inherited by the children libraries
        # fork (pyroute2's, for a socket in a namespace), and the SIGTERM such a child gets on
        # its way out would be read here as this process's, which then stopped.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, on_signal)
        async with cloud.lifespan(None):
            await stop.wait()

    asyncio.run(headless())
    return 0


def supervise(
    settings: config.Settings,
    processes: list[frozenset[str]],
    apis: frozenset[str] | None,
    listener: socket.socket | None,
) -> int:
    """Fork one child per entry of `processes`; restart one that dies; stop all on a signal."""
    children: dict[int, frozenset[str]] = {}
    stopping = False

    supervisor = os.getpid()

    def spawn(roles: frozenset[str]) -> None:
        pid = os.fork()
        if pid == 0:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            parent.end_with_parent(signal.SIGTERM, supervisor)  # a supervisor killed -9 too
            code = 1
            try:
                code = run_process(settings, roles, apis, listener)
            except BaseException:
                LOG.exception("overcast serve: process for %s failed", ",".join(sorted(roles)))
            finally:
                sys.stdout.flush()
                os._exit(code)
        children[pid] = roles

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):  # it has just exited
                os.kill(pid, signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for roles in processes:
        spawn(roles)
    LOG.info("overcast serve: started %d processes", len(children))
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        roles = children.pop(pid, frozenset())
        if not stopping and roles:
            LOG.warning(
                "overcast serve: process %d (%s) ended with status %d; restarting it in 1s",
                pid,
                ",".join(sorted(roles)),
                os.waitstatus_to_exitcode(status),
            )
            time.sleep(1)
            if not stopping:
                spawn(roles)
    return 0
