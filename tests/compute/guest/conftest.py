"""The guest image, built once into a directory every test run shares (it is rebuilt only when
its inputs change), so that the suite does not pay the build each time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from overcast.compute.guest import build

GUEST_DIR = Path(os.environ.get("OVERCAST_TEST_GUEST_DIR", "/var/tmp/overcast-test-guest"))


@pytest.fixture(scope="session")
def guest_image() -> build.Built:
    return build.ensure(GUEST_DIR)
