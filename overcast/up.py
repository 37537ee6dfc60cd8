"""`overcast up` in the foreground: the whole cloud in this process, owning its data dir.

The order is the point: the data dir's lock, then the listening socket, and only then the
migrations, crash recovery and services; so a second `up` on a data dir or a port in use
refuses at once and changes nothing. Ctrl-C or SIGTERM stops it cleanly: requests and work in
flight settle (up to `shutdown_timeout`), then it exits 0 without a traceback.
Called by `overcast.cli` (and, in a child process, by `overcast start`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overcast import runfiles
from overcast.common.config import Settings
from overcast.common.listener import SERVER_KEEP_ALIVE, tcp_listener

if TYPE_CHECKING:
    from overcast import app


def say(message: str) -> None:
    print(f"overcast: {message}", flush=True)


def run(settings: Settings, user_clouds: bool = False) -> int:
    from overcast.compute import drivers
    from overcast.network import drivers as network_drivers

    first = not (settings.data_dir / "admin-password").exists()
    compute_driver = drivers.resolve(settings)
    network_driver = network_drivers.resolve(settings)
    owner = own(settings.data_dir)
    try:
        sock = listen(settings.host, settings.port)
        # Imported only now, so that a refusal above comes at once (they take seconds).
        import uvicorn

        from overcast import app, clouds, services

        progress = say if first else None
        if first:
            say(f"first start: creating the cloud in {settings.data_dir}")
            say("applying database migrations")
        with _quiet_interrupt():
            # The services' modules first (the server needs them all): the migrating child
            # inherits them instead of importing them a second time.
            services.all_services()
            app.upgrade_in_child(settings)
        cloud: app.Cloud

        def ready() -> None:
            path = clouds.write(settings, user_config=user_clouds)
            owner.publish(describe(settings, cloud))
            print(banner(settings, path, first, compute_driver, network_driver), flush=True)
            if settings.compute.default_image:
                from overcast.compute.guest import register  # only when it is wanted: memory

                # It talks to this server's API, so it runs once the server listens.
                task = register.register_in_background(settings)
                cloud.health.wait_for(asyncio.get_running_loop().create_task(task))

        cloud = app.build(settings, on_ready=[ready], progress=progress)
        server = _quiet(
            uvicorn.Config(
                cloud.app,
                log_level="warning",
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=int(settings.shutdown_timeout),
                timeout_keep_alive=SERVER_KEEP_ALIVE,
            )
        )
        with _quiet_interrupt():
            server.run(sockets=[sock])
        if server.started:
            say("stopped")
        return 0
    finally:
        owner.release()


def own(data_dir: Path) -> runfiles.Owner:
    """The data dir for this process, or an exit that says who has it."""
    try:
        return runfiles.acquire(data_dir)
    except runfiles.InUse as exc:
        raise SystemExit(
            f"overcast: {exc}; nothing was changed.\n"
            f"  see it:  overcast status --data-dir {data_dir}\n"
            f"  stop it: overcast stop --data-dir {data_dir}"
        ) from None


@contextlib.contextmanager
def _quiet_interrupt() -> Iterator[None]:
    """A Ctrl-C before the server runs its own handlers ends the command, without a traceback."""
    try:
        yield
    except KeyboardInterrupt:
        say("interrupted")
        raise SystemExit(130) from None


def _quiet(config: Any) -> Any:
    """uvicorn's server, except that a stop by SIGINT or SIGTERM ends in a clean exit instead
    of raising the signal again once shut down (a traceback, and `make: *** Interrupt`)."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            wanted = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in wanted}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server(config)


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound now so that a port in use is refused before anything else."""
    try:
        sock = tcp_listener(host, port)
    except OSError as exc:
        user = port_user(port)
        raise SystemExit(
            f"overcast: cannot listen on {host}:{port}: {exc.strerror}"
            + (f" (held by {user})" if user else "")
            + "; choose another with --port"
        ) from None
    sock.set_inheritable(False)
    return sock


def port_user(port: int) -> str | None:
    """Which process listens on TCP `port` ("pid 123 (cmd)"), if /proc tells us."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    for pid in filter(str.isdigit, os.listdir("/proc")) if inodes else ():
        with contextlib.suppress(OSError):
            fds = Path(f"/proc/{pid}/fd")
            if any(os.readlink(fds / fd) in inodes for fd in os.listdir(fds)):
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                return f"pid {pid}: {cmd.decode(errors='replace').strip()[:120]}"
    return None


def describe(settings: Settings, cloud: app.Cloud) -> dict[str, object]:
    """What `overcast status` shows: where the cloud listens, its services and drivers."""
    drivers: dict[str, object] = {}
    for service in cloud.services:
        section = getattr(settings, service.name, None)
        fields = section.model_dump() if hasattr(section, "model_dump") else {}
        chosen = {k: v for k, v in fields.items() if k in ("driver", "stores")}
        if chosen:
            drivers[service.name] = chosen
    return {
        "url": settings.base_url,
        "listen": f"{settings.host}:{settings.port}",
        "database": settings.db_url.split(":", 1)[0].split("+", 1)[0],
        "services": [
            {"name": s.name, "type": s.catalog_type, "url": s.endpoint_url(settings.base_url)}
            for s in cloud.services
        ],
        "drivers": drivers,
        "started": time.time(),
    }


def banner(
    settings: Settings,
    clouds_yaml: Path,
    first: bool,
    compute_driver: str = "",
    network_driver: str = "",
) -> str:
    lines = [
        f"Overcast is up at {settings.base_url}",
        *([f"  compute driver: {compute_driver}"] if compute_driver else []),
        *([f"  network driver: {network_driver}"] if network_driver else []),
        f"  export OS_CLIENT_CONFIG_FILE={clouds_yaml}",
        "  openstack --os-cloud overcast token issue        # admin",
        "  openstack --os-cloud overcast-demo server list   # the demo user",
        f"  (or: . {settings.data_dir / 'openrc'})",
    ]
    bindir = Path(sys.executable).parent
    if shutil.which("openstack") != str(bindir / "openstack") and (bindir / "activate").exists():
        lines.append(f"  openstack is in {bindir}: . {bindir / 'activate'}")
    if first:
        lines.append(f"  passwords: {settings.data_dir}/admin-password, demo-password")
    lines.append(f"  stop: Ctrl-C or `overcast stop --data-dir {settings.data_dir}`")
    return "\n".join(lines)
