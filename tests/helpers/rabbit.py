"""A private RabbitMQ virtual host per test run, so parallel runs never share a queue.

`vhost()` creates `overcast-test-<random>` with `rabbitmqctl`, yields its amqp:// URL and
deletes it (and every queue and exchange in it) afterwards. `restart()` stops and starts the
broker application, as an operator's restart would; the broker comes back with its durable
queues and persistent messages.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

HOST, PORT = "127.0.0.1", 5672


def unavailable() -> str | None:
    """Why the RabbitMQ tests cannot run here, or None when they can."""
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl is not installed"
    try:
        socket.create_connection((HOST, PORT), timeout=1).close()
    except OSError:
        return f"no RabbitMQ at {HOST}:{PORT}"
    return None


def ctl(*args: str, attempts: int = 5) -> None:
    """Run rabbitmqctl; retried, since a broker that has just started may refuse at first."""
    for attempt in range(attempts):
        done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, timeout=120)
        if done.returncode == 0:
            return
        if attempt == attempts - 1:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr.decode()[-500:]}")
        time.sleep(1)


@contextmanager
def vhost() -> Iterator[str]:
    name = f"overcast-test-{uuid.uuid4().hex[:10]}"
    ctl("add_vhost", name)
    try:
        ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@{HOST}:{PORT}/{name}"
    finally:
        ctl("delete_vhost", name)


def restart(pause: float = 0.0) -> None:
    """Stop the broker, wait `pause` seconds, start it again; always leaves it running."""
    try:
        ctl("stop_app")
        time.sleep(pause)
    finally:
        ctl("start_app")
        ctl("await_startup")


@contextmanager
def selected() -> Iterator[dict[str, str]]:
    """Server environment for the run's bus: a fresh virtual host when OVERCAST_TEST_BUS is
    "amqp", nothing (the in-process bus) otherwise."""
    if os.environ.get("OVERCAST_TEST_BUS") != "amqp":
        yield {}
        return
    with vhost() as url:
        yield {"OVERCAST_BUS_URL": url}
