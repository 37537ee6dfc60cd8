"""RabbitMQ for the tests: a private virtual host per test run on the machine's broker, so
parallel runs never share a queue, and private brokers for the tests that restart one.

`vhost()` creates `overcast-test-<random>` with `rabbitmqctl`, yields its amqp:// URL and
deletes it (and every queue and exchange in it) afterwards. A test that restarts the broker
starts its own with `private()` (a RabbitMQ node of its own on a free port, stopped and removed
after): restarting the machine's broker would cut every other test's connections.
`Broker.restart()` stops and starts the broker application, as an operator's restart would; the
broker comes back with its durable queues and persistent messages.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import server

HOST, PORT = "127.0.0.1", 5672
RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")  # Debian's; its /usr/sbin wrappers run as `rabbitmq`


def unavailable() -> str | None:
    """Why the RabbitMQ tests cannot run here, or None when they can."""
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl is not installed"
    return None if _listening(PORT) else f"no RabbitMQ at {HOST}:{PORT}"


@dataclass(frozen=True)
class Broker:
    """A RabbitMQ node: the machine's own (`node` None) or one a test started."""

    port: int = PORT
    node: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    def ctl(self, *args: str, attempts: int = 5) -> None:
        """Run rabbitmqctl; retried, since a broker that has just started may refuse at first."""
        command = ["rabbitmqctl", "-q", *args]
        if self.node is not None:
            command = [str(RABBIT_BIN / "rabbitmqctl"), "-q", "-n", self.node, *args]
        for attempt in range(attempts):
            done = subprocess.run(
                command, capture_output=True, timeout=120, env={**os.environ, **self.env}
            )
            if done.returncode == 0:
                return
            if attempt == attempts - 1:
                raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr.decode()[-500:]}")
            time.sleep(1)

    @contextlib.contextmanager
    def vhost(self) -> Iterator[str]:
        name = f"overcast-test-{uuid.uuid4().hex[:10]}"
        self.ctl("add_vhost", name)
        try:
            self.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
            yield f"amqp://guest:guest@{HOST}:{self.port}/{name}"
        finally:
            self.ctl("delete_vhost", name)

    def restart(self, pause: float = 0.0) -> None:
        """Stop the broker, wait `pause` seconds, start it again; always leaves it running."""
        assert self.node is not None, "only a test's own broker is restarted"
        try:
            self.ctl("stop_app")
            time.sleep(pause)
        finally:
            self.ctl("start_app")
            self.ctl("await_startup")


SHARED = Broker()


def vhost() -> contextlib.AbstractContextManager[str]:
    """A fresh virtual host on the machine's broker."""
    return SHARED.vhost()


def _listening(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=1).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def private(timeout: float = 180.0) -> Iterator[Broker]:
    """A RabbitMQ node of the test's own on free loopback ports (its data in a temporary
    directory), for tests that restart the broker; stopped and removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="ovt-rabbit-"))
    ports = [server.free_port() for _ in range(2)]
    node = f"ovt{uuid.uuid4().hex[:8]}@localhost"
    (root / "plugins").write_text("")
    env = {
        "HOME": str(root),  # its own Erlang cookie, which its rabbitmqctl then reads
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": HOST,
        "RABBITMQ_NODE_PORT": str(ports[0]),
        "RABBITMQ_DIST_PORT": str(ports[1]),
        "RABBITMQ_MNESIA_BASE": str(root / "mnesia"),
        "RABBITMQ_LOG_BASE": str(root / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "plugins"),
        "RABBITMQ_CONFIG_FILE": str(root / "none"),
    }
    broker = Broker(ports[0], node, env)
    with (root / "broker.log").open("wb") as log:
        process = subprocess.Popen(
            [str(RABBIT_BIN / "rabbitmq-server")],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while not _listening(broker.port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"RabbitMQ did not start: {(root / 'broker.log').read_text()}")
            time.sleep(0.3)
        yield broker
    finally:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            broker.ctl("stop", attempts=1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)  # the Erlang VM and its epmd-registered helpers
        process.wait()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def selected() -> Iterator[dict[str, str]]:
    """Server environment for the run's bus: a fresh virtual host when OVERCAST_TEST_BUS is
    "amqp", nothing (the in-process bus) otherwise."""
    if os.environ.get("OVERCAST_TEST_BUS") != "amqp":
        yield {}
        return
    with vhost() as url:
        yield {"OVERCAST_BUS_URL": url}
