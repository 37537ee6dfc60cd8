"""The fuzzing gate: schemathesis runs every operation of every registered service's OpenAPI
description (each `prefix/openapi.json`), with an admin token, and fails on any 5xx. Services
are read from the registry, so a new service is fuzzed from the day it registers.

The cloud is its own (the fuzzer creates and deletes at random); the seed is fixed so that the
gate is repeatable; set OVERCAST_FUZZ_SEED to explore other inputs, OVERCAST_FUZZ_EXAMPLES to
try more per operation.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from overcast import services
from tests.helpers.server import Server

SCHEMATHESIS = str(Path(sys.executable).parent / "st")
SEED = os.environ.get("OVERCAST_FUZZ_SEED", "1")
EXAMPLES = os.environ.get("OVERCAST_FUZZ_EXAMPLES", "2")
# The bound on one service's run: about a minute on 2 cores, three when they are shared.
TIMEOUT = 420

REGISTERED = [(s.name, s.prefix) for s in services.all_services()]


@pytest.fixture(scope="module")
def fuzzed_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("fuzzed"), env={"OVERCAST_LOG_LEVEL": "WARNING"})
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.parametrize(("name", "prefix"), REGISTERED, ids=[n for n, _ in REGISTERED])
def test_no_fuzzed_input_makes_a_5xx(fuzzed_cloud: Server, name: str, prefix: str) -> None:
    base = fuzzed_cloud.url + prefix
    if not httpx.get(f"{base}/openapi.json", timeout=30).json().get("paths"):
        pytest.skip(f"{name} publishes no operations in its OpenAPI description to fuzz")
    token = fuzzed_cloud.connect().auth_token
    result = subprocess.run(
        [
            SCHEMATHESIS,
            "run",
            f"{base}/openapi.json",
            "--url",
            base,
            "--header",
            f"X-Auth-Token: {token}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            EXAMPLES,
            "--phases",
            "coverage,fuzzing",
            "--seed",
            SEED,
            "--workers",
            "1",
            "--no-shrink",
            "--warnings",
            "off",
            "--request-timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
        check=False,
    )
    assert result.returncode == 0, f"{name}: {result.stdout[-8000:]}{result.stderr[-2000:]}"
