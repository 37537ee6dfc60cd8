"""API workers start together: their key repository is made once, whoever comes first."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from overcast.identity.keys import KeyRepository


def _start(directory: str, barrier: Any, out: Any) -> None:
    repo = KeyRepository(Path(directory))
    barrier.wait()
    repo.ensure()
    out.put(repo.primary())


def test_workers_starting_at_once_make_one_set_of_keys(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    workers = 8
    barrier, out = ctx.Barrier(workers), ctx.Queue()
    procs = [
        ctx.Process(target=_start, args=(str(tmp_path / "keys"), barrier, out))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
    assert [p.exitcode for p in procs] == [0] * workers
    primaries = {out.get(timeout=5) for _ in range(workers)}
    assert len(primaries) == 1
    assert sorted(p.name for p in (tmp_path / "keys").iterdir() if not p.name.startswith(".")) == [
        "0",
        "1",
    ]
