"""A real `overcast up` in a process of its own (forked by tests/helpers/launcher.py), on a
free port, with a temporary data dir.

Tests drive it with the real clients: openstacksdk connections (`connect`) and the `openstack`
command (`cli`, `cli_json`; run in the test's process by tests/helpers/cli.py), configured through
the clouds.yaml the server writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import openstack
import openstack.config

from tests.helpers import cli, launcher

OPENSTACK = str(Path(sys.executable).parent / "openstack")

# Tests hash passwords at bcrypt's lowest cost so the suite stays fast; one test checks the
# default cost separately. Servers register no default guest image unless a test asks.
FAST_ENV = {
    "OVERCAST_IDENTITY__PASSWORD_HASH_ROUNDS": "4",
    "OVERCAST_COMPUTE__DEFAULT_IMAGE": "",
    "OVERCAST_COMPUTE__DRIVER": "fake",
    "OVERCAST_NETWORK__DRIVER": "noop",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reap(data_dir: Path, timeout: float = 5.0) -> list[int]:
    """End every process a cloud left running on `data_dir` (guests, volume exports, dnsmasq
    outlive Overcast on purpose, as they would a restart): for a test's end, not a restart."""
    mine = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(data_dir).encode() + b"/" in cmdline:
            mine.append(int(entry.name))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in mine:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while any(map(_running, mine)) and time.monotonic() < deadline:
            time.sleep(0.1)
    return mine


def _running(pid: int) -> bool:
    try:  # a zombie has ended: only its parent's wait is missing
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class Server:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, port: int | None = None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.env = {**os.environ, **FAST_ENV, **(env or {})}
        self.process: launcher.Launched | None = None
        self.log = data_dir / "server.log"
        self.db_env: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def clouds_yaml(self) -> Path:
        return self.data_dir / "clouds.yaml"

    def start(self, timeout: float = 120.0) -> Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = ["up", "--data-dir", str(self.data_dir), "--port", str(self.port)]
        self.process = launcher.launch(argv, self.env, self.log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                # Ready once every service started and clouds.yaml is written.
                if httpx.get(self.url + "/healthcheck", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.process.kill()  # leave no orphan behind a failed start
        self.process.wait()
        raise RuntimeError(f"server did not start: {self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def kill(self) -> None:
        """Stop at once, as a crash would."""
        self.stop(signal.SIGKILL)

    def connect(self, cloud: str = "overcast", **overrides: Any) -> openstack.connection.Connection:
        config = openstack.config.OpenStackConfig(config_files=[str(self.clouds_yaml)])
        region = config.get_one(cloud=cloud, **overrides)
        return openstack.connection.Connection(config=region)

    def cli(
        self, *args: str, cloud: str = "overcast", check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = cli.openstack(["--os-cloud", cloud, *args], self.clouds_yaml, input=input)
        if check and result.returncode != 0:
            raise AssertionError(f"openstack {' '.join(args)} failed:\n{result.stderr}")
        return result

    def cli_json(self, *args: str, cloud: str = "overcast") -> Any:
        return json.loads(self.cli(*args, "-f", "json", cloud=cloud).stdout)

    def password(self, user: str) -> str:
        return (self.data_dir / f"{user}-password").read_text().strip()
