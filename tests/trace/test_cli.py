"""`overcast trace SERVER`: the timeline drawn in the terminal from the REST API, with the
clouds.yaml credentials of the server's owner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import openstack

from tests.compute.conftest import boot, wait_for
from tests.helpers.server import Server
from tests.trace.test_boot_trace import settled

OVERCAST = str(Path(sys.executable).parent / "overcast")


def trace_cli(
    server: Server, *args: str, cloud: str = "overcast-demo"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(server.clouds_yaml), "OS_CLOUD": cloud}
    return subprocess.run(
        [OVERCAST, "trace", *args], env=env, text=True, capture_output=True, timeout=60
    )


def test_trace_draws_the_boot(
    server: Server,
    demo: openstack.connection.Connection,
    cirros: Any,
) -> None:
    vm = boot(demo, cirros)
    wait_for(demo, vm.id, "ACTIVE")
    settled(demo, vm.id)
    done = trace_cli(server, vm.name, "--width", "120")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"create of {vm.name}  request req-")
    steps = ["token checked", "quota reserved", "scheduled", "image fetched", "ACTIVE"]
    rows = [next(i for i, line in enumerate(lines) if step in line) for step in steps]
    assert rows == sorted(rows)
    assert all("|" in lines[i] and "█" in lines[i] and " ms" in lines[i] for i in rows)
    assert "db transaction" not in done.stdout
    assert "db transaction" in trace_cli(server, vm.id, "--all").stdout


def test_trace_of_a_failed_boot_and_of_nothing(
    server: Server,
    admin: openstack.connection.Connection,
    demo: openstack.connection.Connection,
    cirros: Any,
) -> None:
    flavor = admin.compute.create_flavor(name="too-big-cli", ram=64, vcpus=1, disk=900_000)
    try:
        vm = boot(demo, cirros, flavor=flavor.id)
        wait_for(demo, vm.id, "ERROR")
    finally:
        admin.compute.delete_flavor(flavor)
    settled(demo, vm.id)
    done = trace_cli(server, vm.id)
    assert done.returncode == 0, done.stderr
    assert "✗ No valid host was found. ResourceFilter refused all 3 hosts" in done.stdout
    missing = trace_cli(server, "no-such-server")
    assert missing.returncode == 1 and "no-such-server" in missing.stderr
    assert "Traceback" not in missing.stderr
