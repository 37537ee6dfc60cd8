"""Managing a cloud from outside it: `overcast start` (= `up --detach`), `status`, `wait`,
`stop` and `clouds`. Each finds the cloud through its data dir's run files (`runfiles`) and
asks it over HTTP whether it answers. Called by `overcast.cli`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from overcast import health, runfiles

# Exit statuses, as systemctl and LSB init scripts use them.
OK, FAILED, NOT_RUNNING = 0, 1, 3


def probe(info: dict[str, Any]) -> tuple[bool, list[tuple[str, str, str]]]:
    """Ask the cloud described by `info` (run.json) whether it and each service answer.

    Returns (every check passed, [(what, url, result)]). The listener is reached at its
    listening address, whatever public URL the catalog gives.
    """
    host, _, port = str(info["listen"]).rpartition(":")
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    local = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    targets = [("listener", local + health.PATH)]
    # A catalog URL may hold a template (`AUTH_%(project_id)s`): probe what precedes it.
    paths = [(s["name"], urlsplit(s["url"]).path.split("%(")[0]) for s in info["services"]]
    targets += [(name, local + path) for name, path in paths]
    checks: list[tuple[str, str, str]] = []
    healthy = True
    with httpx.Client(timeout=3.0) as client:
        for name, url in targets:
            try:
                status = client.get(url).status_code
            except httpx.HTTPError as exc:
                healthy, result = False, f"no answer ({type(exc).__name__})"
            else:
                good = status == 200 if name == "listener" else status < 500
                healthy = healthy and good
                result = f"answers ({status})" if good else f"fails ({status})"
            checks.append((name, url, result))
    return healthy, checks


def ready(data_dir: Path, pid: int | None = None) -> tuple[bool, str]:
    """Whether the owner of `data_dir` (`pid`, if given) has started and answers; and why not."""
    owner = runfiles.holder(data_dir)
    if owner is None:
        return False, "not running"
    info = runfiles.run_info(data_dir)
    if info is None or info.get("pid") != owner or (pid is not None and owner != pid):
        return False, f"starting (pid {owner})"
    healthy, checks = probe(info)
    failing = [f"{name} {result}" for name, _url, result in checks if "answers" not in result]
    return healthy, "; ".join(failing) or "ready"


def start(data_dir: Path, up_args: list[str], timeout: float) -> int:
    """Run `overcast up` in the background, logging to DATA_DIR/overcast.log, and return once
    every service answers (0), or once it failed or the timeout passed (1)."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_path = data_dir / runfiles.LOG
    with log_path.open("ab") as log:
        log.write(f"--- overcast start, {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        offset = log.tell()
        child = subprocess.Popen(
            [sys.executable, "-m", "overcast.cli", "up", "--data-dir", str(data_dir), *up_args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in this terminal is not meant for it
        )
    deadline = time.monotonic() + timeout
    while True:
        offset = _echo(log_path, offset)
        if child.poll() is not None:
            _echo(log_path, offset, everything=True)
            print(f"overcast: did not start (exit status {child.returncode}); log: {log_path}")
            return FAILED
        is_ready, why = ready(data_dir, child.pid)
        if is_ready:
            _echo(log_path, offset)
            print(f"overcast: running in the background, pid {child.pid}; log: {log_path}")
            return OK
        if time.monotonic() > deadline:
            print(
                f"overcast: not ready after {timeout:g} s ({why}); it is still running as pid "
                f"{child.pid}: `overcast wait` or `overcast stop`; log: {log_path}"
            )
            return FAILED
        time.sleep(0.1)


def _echo(log_path: Path, offset: int, everything: bool = False) -> int:
    """Show what the background cloud printed for people (its JSON log lines only when it
    failed); return where reading stopped."""
    with log_path.open("rb") as log:
        log.seek(offset)
        data = log.read()
    complete = data[: data.rfind(b"\n") + 1]
    for line in complete.decode(errors="replace").splitlines():
        if everything or not line.startswith("{"):
            print(line, flush=True)
    return offset + len(complete)


def wait(data_dir: Path, timeout: float, quiet: bool = False) -> int:
    """Block until the cloud owning `data_dir` answers (0), or the timeout passes (1)."""
    deadline = time.monotonic() + timeout
    while True:
        is_ready, why = ready(data_dir)
        if is_ready:
            if not quiet:
                info = runfiles.run_info(data_dir) or {}
                print(f"overcast is ready at {info.get('url')}")
            return OK
        if time.monotonic() > deadline:
            print(f"overcast: not ready after {timeout:g} s: {why}", file=sys.stderr)
            return FAILED
        time.sleep(0.2)


def stop(data_dir: Path, timeout: float) -> int:
    """SIGTERM the owner of `data_dir` and wait until it has let go (0). Past `timeout`, it is
    killed (1): what it left half done is reconciled on the next start."""
    pid = runfiles.holder(data_dir)
    if pid is None:
        print(f"overcast is not running in {data_dir}")
        return OK
    if not pid:
        print(f"overcast: {data_dir} is locked by a process whose pid is unknown", file=sys.stderr)
        return FAILED
    print(f"overcast: stopping pid {pid} (waiting up to {timeout:g} s for work in flight)")
    os.kill(pid, signal.SIGTERM)
    if _released(data_dir, timeout):
        print("overcast: stopped")
        return OK
    os.kill(pid, signal.SIGKILL)
    _released(data_dir, 10.0)
    print(
        f"overcast: pid {pid} did not stop within {timeout:g} s and was killed; "
        "its unfinished work is reconciled on the next start",
        file=sys.stderr,
    )
    return FAILED


def _released(data_dir: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while runfiles.holder(data_dir) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def status(data_dir: Path, as_json: bool = False) -> int:
    """What runs in `data_dir`, where, with which drivers, and whether it answers."""
    pid = runfiles.holder(data_dir)
    info = runfiles.run_info(data_dir) if pid is not None else None
    if info is not None and info.get("pid") != pid:
        info = None
    healthy, checks = probe(info) if info else (False, [])
    code = NOT_RUNNING if pid is None else OK if healthy else FAILED
    if as_json:
        report = {
            "running": pid is not None,
            "pid": pid,
            "ready": healthy,
            "data_dir": str(data_dir),
        }
        report.update(info or {})
        report["checks"] = [{"name": n, "url": u, "result": r} for n, u, r in checks]
        print(json.dumps(report, indent=2))
        return code
    if pid is None:
        print(f"overcast is not running in {data_dir}")
        return code
    if info is None:
        print(f"overcast is starting: pid {pid}, data dir {data_dir}")
        return FAILED
    print(f"overcast is running: pid {pid}, up {_age(info['started'])}, data dir {data_dir}")
    print(f"  {'url':<12} {info['url']}  (database: {info['database']})")
    drivers = info.get("drivers", {})
    for name, url, result in checks:
        chosen = drivers.get(name, {})
        extra = "  ".join(f"{k}: {_text(v)}" for k, v in chosen.items())
        print(f"  {name:<12} {url:<45} {result}  {extra}".rstrip())
    log = data_dir / runfiles.LOG
    if log.exists():
        print(f"  {'log':<12} {log}")
    return code


def _text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _age(started: float) -> str:
    seconds = int(time.time() - started)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h {rest // 60}m" if hours else f"{rest // 60}m {rest % 60}s"


def clouds(data_dir: Path, openrc: bool = False) -> int:
    """Print the clouds.yaml (or openrc) the cloud in `data_dir` wrote."""
    path = data_dir / ("openrc" if openrc else "clouds.yaml")
    if not path.exists():
        print(
            f"overcast: no {path} yet: `overcast up` writes it on its first start", file=sys.stderr
        )
        return FAILED
    sys.stdout.write(path.read_text())
    return OK
