"""How fast `overcast up` is ready and how much memory it holds when idle.

    python bench/startup.py [--runs 3] [--idle 3] [--env KEY=VALUE ...]

Each run starts a fresh cloud in a temporary data dir (first boot: migrations and bootstrap),
then restarts it on the same dir (second boot), timing each until `GET /v3` answers, and reads
the server's resident memory (VmRSS) after `--idle` seconds of nothing. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _boot(data_dir: Path, env: dict[str, str], idle: float) -> dict[str, Any]:
    port = _port()
    cmd = [sys.executable, "-m", "overcast.cli", "up", "--data-dir", str(data_dir)]
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError("overcast up exited")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v3", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.02)
        ready = time.perf_counter() - started
        time.sleep(idle)
        return {"ready_s": round(ready, 2), "idle_rss_mb": _rss_mb(proc.pid)}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=3.0)
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server")
    args = parser.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    first, second = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            first.append(_boot(Path(tmp), env, args.idle))
            second.append(_boot(Path(tmp), env, args.idle))

    def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {key: round(statistics.median(r[key] for r in runs), 2) for key in runs[0]}

    print(json.dumps({"first_boot": summary(first), "second_boot": summary(second)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
