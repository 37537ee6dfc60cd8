"""A cloud of several `overcast serve` processes on one machine, on RabbitMQ and PostgreSQL.

`Node` is one `overcast serve --role ...` command (its own data dir, host name and compute
host prefix); it is ready when each of its processes has logged "overcast is ready". `Cloud`
holds a fresh database and virtual host and the settings every node shares, and starts nodes
in it. `unavailable()` says why such a cloud cannot run here.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import databases, rabbit
from tests.helpers.server import FAST_ENV, Server, free_port


def unavailable() -> str | None:
    reason = rabbit.unavailable()
    if reason:
        return reason
    if not databases.reachable("postgresql"):
        return "no PostgreSQL at 127.0.0.1:5432"
    return None


class Node(Server):
    def __init__(
        self,
        data_dir: Path,
        roles: str,
        env: dict[str, str],
        port: int,
        workers: int = 1,
        processes: int = 1,
        prefix: list[str] | None = None,
    ) -> None:
        super().__init__(data_dir, env=env, port=port)
        self.roles = roles
        self.workers = workers
        self.processes = processes  # how many "overcast is ready" lines mean ready
        self.prefix = prefix or []  # e.g. ["ip", "netns", "exec", "ns1"]

    def start(self, timeout: float = 120.0) -> Node:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            *self.prefix,
            sys.executable,
            "-m",
            "overcast.cli",
            "serve",
            "--role",
            self.roles,
            "--workers",
            str(self.workers),
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
        ]
        seen = self.log.read_text().count("overcast is ready") if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"node exited: {self.log.read_text()[-3000:]}")
            if self.log.read_text().count("overcast is ready") >= seen + self.processes:
                return self
            time.sleep(0.2)
        self.process.kill()
        self.process.wait()
        raise RuntimeError(f"node did not start: {self.log.read_text()[-3000:]}")


class Cloud:
    """Nodes sharing one fresh PostgreSQL database and one fresh RabbitMQ virtual host."""

    def __init__(self, root: Path, **settings: str) -> None:
        self.root = root
        self.port = free_port()
        self.nodes: list[Node] = []
        self._stack = contextlib.ExitStack()
        self.db_url = self._stack.enter_context(databases.fresh("postgresql"))
        self.bus_url = self._stack.enter_context(rabbit.vhost())
        self.env = {
            **FAST_ENV,
            "OVERCAST_DATABASE_URL": self.db_url,
            "OVERCAST_BUS_URL": self.bus_url,
            "OVERCAST_PUBLIC_URL": f"http://127.0.0.1:{self.port}",
            **settings,
        }

    def node(
        self, name: str, roles: str, workers: int = 1, fake_hosts: int = 1, **env: str
    ) -> Node:
        processes = workers + 1 if workers > 1 and roles not in ("api",) else 1
        # Nodes after the first act with the service credentials the first one bootstrapped.
        first = self.nodes[0].data_dir / "admin-password" if self.nodes else None
        if first is not None and first.exists():
            env = {"OVERCAST_SERVICE_PASSWORD": first.read_text().strip(), **env}
        node = Node(
            self.root / name,
            roles,
            {
                **self.env,
                "OVERCAST_HOST_NAME": name,
                "OVERCAST_COMPUTE__HOST_PREFIX": f"{name}-",
                "OVERCAST_COMPUTE__FAKE_HOSTS": str(fake_hosts),
                **env,
            },
            self.port,
            workers=workers,
            processes=processes,
        )
        self.nodes.append(node)
        return node

    def close(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        self._stack.close()


@contextlib.contextmanager
def cloud(root: Path, **settings: str) -> Iterator[Cloud]:
    made = Cloud(root, **settings)
    try:
        yield made
    finally:
        made.close()
