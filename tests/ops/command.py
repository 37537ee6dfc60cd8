"""Running the real `overcast` command (the console script beside this Python) in tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.server import FAST_ENV

OVERCAST = str(Path(sys.executable).parent / "overcast")


def overcast(*args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OVERCAST, *args],
        env={**os.environ, **FAST_ENV, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
