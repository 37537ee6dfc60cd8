"""A cloud of several `overcast serve` processes on one machine, on RabbitMQ and PostgreSQL.

`Node` is one `overcast serve --role ...` command (its own data dir, host name and compute
host prefix); it is ready when each of its processes has logged "overcast is ready". `Cloud`
holds a fresh database and virtual host and the settings every node shares, and starts nodes
in it. `unavailable()` says why such a cloud cannot run here.

Given a `fabric.Fabric`, each node is a host of its own: a network namespace with its own
address (`my_ip`, and the VXLAN tunnel address of its network agent, whose dataplane
namespace is the host's) on the test's bridge. RabbitMQ and PostgreSQL are forwarded into every host
at 127.0.0.1, and so is the first node's API (over the bridge, from the host's own address), so
one set of URLs serves every node; the first node's API is forwarded out to the root
namespace's loopback for the test's clients.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from overcast.network.drivers.linuxbridge import names, routers
from tests.helpers import databases, fabric, rabbit
from tests.helpers.server import FAST_ENV, Server, free_port, reap


def made_namespaces(data_dir: Path, dataplane: str) -> list[str]:
    """The DHCP and router namespaces a cloud's network agent recorded making under
    `data_dir` (its dataplane namespace `dataplane` not among them)."""
    dhcp = data_dir / "network" / "dhcp"
    made = [names.dhcp_namespace(d.name) for d in dhcp.iterdir()] if dhcp.exists() else []
    l3 = routers.Made(data_dir / "network" / "l3" / f"{dataplane}.routers")
    return sorted([*made, *l3.load()])


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
                raise RuntimeError(
                    f"node exited ({self.process.returncode}): {self.log.read_text()[-3000:]}"
                )
            if self.log.read_text().count("overcast is ready") >= seen + self.processes:
                return self
            time.sleep(0.2)
        self.process.kill()
        self.process.wait()
        raise RuntimeError(f"node did not start: {self.log.read_text()[-3000:]}")

    def run(self, *argv: str) -> str:
        """`argv`'s output, run in this node's network and mount namespaces (where the
        namespaces the node made are)."""
        assert self.process is not None
        pid = str(self.process.pid)
        done = subprocess.run(
            ["nsenter", "-t", pid, "-m", "-n", *argv], capture_output=True, text=True, check=True
        )
        return done.stdout


class Cloud:
    """Nodes sharing one fresh PostgreSQL database and one fresh RabbitMQ virtual host."""

    def __init__(
        self,
        root: Path,
        hosts: fabric.Fabric | None = None,
        broker: rabbit.Broker = rabbit.SHARED,
        **settings: str,
    ) -> None:
        self.root = root
        self.hosts = hosts
        self.broker = broker
        self.port = free_port()
        self.nodes: list[Node] = []
        self._stack = contextlib.ExitStack()
        self.db_url = self._stack.enter_context(databases.fresh("postgresql"))
        self.bus_url = self._stack.enter_context(broker.vhost())
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
        prefix = []
        if self.hosts is not None:
            host = self._host(name)
            prefix = ["ip", "netns", "exec", host.namespace]
            env = {
                "OVERCAST_MY_IP": host.address,
                "OVERCAST_HOST": "0.0.0.0",
                "OVERCAST_NETWORK__LINUXBRIDGE__LOCAL_IP": host.address,
                "OVERCAST_NETWORK__LINUXBRIDGE__NAMESPACE": host.dataplane,
                **env,
            }
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
            prefix=prefix,
        )
        self.nodes.append(node)
        return node

    def _host(self, name: str) -> fabric.Host:
        assert self.hosts is not None
        host = self.hosts.host(name)
        for port in (self.broker.port, databases.PORTS["postgresql"]):
            self.hosts.forward(host.namespace, port, None, ("127.0.0.1", port))
        if len(self.hosts.hosts) == 1:  # the API's node: its API out to the tests
            self.hosts.forward(None, self.port, host.namespace, ("127.0.0.1", self.port))
        else:  # the API's node is reached over the bridge
            api = self.hosts.hosts[0]
            self.hosts.forward(host.namespace, self.port, host.namespace, (api.address, self.port))
        return host

    def close(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        for node in self.nodes:  # guests and dnsmasq outlive a node on purpose; not the test
            reap(node.data_dir)
            dataplane = node.env.get("OVERCAST_NETWORK__LINUXBRIDGE__NAMESPACE", "ocdp")
            for name in made_namespaces(node.data_dir, dataplane):
                subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self._stack.close()


@contextlib.contextmanager
def cloud(
    root: Path,
    hosts: fabric.Fabric | None = None,
    broker: rabbit.Broker = rabbit.SHARED,
    **settings: str,
) -> Iterator[Cloud]:
    made = Cloud(root, hosts, broker, **settings)
    try:
        yield made
    finally:
        made.close()
