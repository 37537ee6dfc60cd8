"""`workers.Processes`: calls run in child processes, answers and errors come back whole, a
child that dies is replaced, and closing the pool ends every child."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
from pathlib import Path

import pytest

from overcast.common import workers


def _fail_with(code: int, path: str) -> None:
    raise OSError(code, os.strerror(code), path)


async def _children(pool: workers.Processes) -> list[int]:
    return [child.proc.pid for child in pool._all]


async def test_calls_run_in_children_and_errors_come_back(tmp_path: Path) -> None:
    pool = workers.Processes(2, "test")
    try:
        pids = await asyncio.gather(*(pool.run(os.getpid) for _ in range(6)))
        assert os.getpid() not in pids
        assert 1 <= len(set(pids)) <= 2
        target = tmp_path / "made"
        await pool.run(os.mkdir, str(target))
        assert target.is_dir()
        with pytest.raises(FileExistsError) as raised:
            await pool.run(os.mkdir, str(target))
        assert raised.value.errno == errno.EEXIST
        with pytest.raises(OSError) as failed:
            await pool.run(_fail_with, errno.EROFS, "/x")
        assert failed.value.errno == errno.EROFS and failed.value.filename == "/x"
    finally:
        await pool.close()


async def test_a_dead_child_is_replaced_and_close_ends_them() -> None:
    pool = workers.Processes(1, "test")
    first = await pool.run(os.getpid)
    os.kill(first, signal.SIGKILL)
    for _ in range(100):  # the pool hears of it when the socket closes
        if not pool._all:
            break
        await asyncio.sleep(0.02)
    second = await pool.run(os.getpid)
    assert second != first
    procs = [child.proc for child in pool._all]
    await pool.close()
    assert all(proc.returncode is not None for proc in procs)
    with pytest.raises(RuntimeError):
        await pool.run(os.getpid)


async def test_a_child_killed_during_a_call_fails_only_that_call() -> None:
    pool = workers.Processes(1, "test")
    try:
        pid = await pool.run(os.getpid)
        slow = asyncio.ensure_future(pool.run(__import__("time").sleep, 5))
        await asyncio.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(RuntimeError, match="ended"):
            await asyncio.wait_for(slow, 5)
        assert await pool.run(os.getpid) != pid
    finally:
        await pool.close()
