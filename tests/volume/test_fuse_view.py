"""The FUSE raw view of a qcow2 volume ends with its context, whatever its daemon does."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import pytest

from overcast.volume.drivers import fuse

pytestmark = pytest.mark.skipif(not fuse.available(), reason="no /dev/fuse")


def test_views_in_a_row_each_leave_no_daemon_and_no_mount(tmp_path: Path) -> None:
    image = tmp_path / "v.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "1M"], check=True)
    view = tmp_path / ".v.view"

    async def rounds() -> None:
        for pattern in range(1, 21):
            async with fuse.raw_view(image, "qcow2", view, writable=True) as raw:
                with raw.open("r+b") as handle:
                    handle.write(bytes([pattern]) * 4096)
                    os.fsync(handle.fileno())
            assert not view.exists()

    asyncio.run(asyncio.wait_for(rounds(), 60))
    assert f" {view} " not in Path("/proc/mounts").read_text()
    out = subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", "read -P 20 0 4k", str(image)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "read 4096/4096" in out.stdout


def test_a_daemon_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    mountpoint = tmp_path / ".stuck.view"
    mountpoint.touch()

    async def stop() -> float:
        process = await asyncio.create_subprocess_exec(
            "sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"
        )
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await fuse._stop(process, mountpoint)
        assert process.returncode is not None
        return time.monotonic() - started

    assert asyncio.run(stop()) < 10
    assert not mountpoint.exists()
