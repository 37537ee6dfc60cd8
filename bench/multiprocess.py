"""Start a multi-process Overcast cloud on this machine, run a benchmark against it, stop it.

    python bench/multiprocess.py --database-url postgresql+asyncpg://postgres@127.0.0.1/bench \
        --bus-url amqp://guest:guest@127.0.0.1:5672/bench --workers 2 \
        --compute-processes 4 --hosts 1000 -- python bench/compute.py --cloud overcast \
        --tiny-image --single 20 --concurrent 300 --list-sizes "" --cpu {cpu_groups} --idle 20

One `overcast serve --role controller --workers W` and P `overcast serve --role compute`
processes sharing `--hosts` fake compute hosts (the fake driver) between them; the command after `--` runs with
OS_CLIENT_CONFIG_FILE pointing at the cloud's clouds.yaml (clouds `overcast`, `overcast-demo`),
and `{auth_url}` / `{admin_password}` in it replaced by the cloud's, `{cpu_groups}` by the
groups of processes whose CPU `bench/compute.py --cpu` measures: the controller's API workers
and its scheduler-and-conductor process, each compute process, the database's PostgreSQL backends, RabbitMQ (the whole broker:
other users of it count too) and the bench client itself.
Prints one JSON object: the cloud's shape, its start-up time and the command's JSON output.
The database and the virtual host must exist and be empty.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    root: Path, name: str, roles: str, env: dict[str, str], extra: list[str]
) -> tuple[subprocess.Popen[bytes], Path]:
    data = root / name
    data.mkdir(parents=True, exist_ok=True)
    log = data / "server.log"
    cmd = [sys.executable, "-m", "overcast.cli", "serve", "--role", roles, "--data-dir", str(data)]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd + extra, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env}
        )
    return proc, log


def wait_ready(log: Path, count: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{log.parent.name} exited: {log.read_text()[-2000:]}")
        if log.exists() and log.read_text().count("overcast is ready") >= count:
            return
        time.sleep(0.2)
    raise SystemExit(f"{log.parent.name} did not start: {log.read_text()[-2000:]}")


def controller_processes(pid: int, workers: int) -> list[tuple[str, int]]:
    """The controller's processes by name: `overcast serve` forks its API workers first, then
    one for the scheduler and conductor (`controller` for the whole when it runs as one)."""
    children: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as found:
            children.extend(int(child) for child in found.read().split())
    children.sort()
    if workers <= 1 or len(children) != workers + 1:
        return [("controller", pid)]
    return [(f"api{i + 1}", child) for i, child in enumerate(children[:workers])] + [
        ("conductor", children[-1])
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--bus-url", required=True)
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    parser.add_argument(
        "--conductors",
        type=int,
        default=1,
        help="scheduler-and-conductor processes: the controller's and N-1 more",
    )
    parser.add_argument("--compute-processes", type=int, default=2, help="0: none (API benches)")
    parser.add_argument("--hosts", type=int, default=100, help="fake hosts over all of them")
    parser.add_argument("--data-dir", type=Path, help="default: a temporary directory")
    parser.add_argument("--port", type=int, help="the API's port (default: a free one)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    root = args.data_dir or Path(tempfile.mkdtemp(prefix="overcast-bench-"))
    port = args.port or free_port()
    env = {
        "OVERCAST_DATABASE_URL": args.database_url,
        "OVERCAST_BUS_URL": args.bus_url,
        "OVERCAST_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "OVERCAST_COMPUTE__DRIVER": "fake",
    }
    began = time.monotonic()
    procs = []
    try:
        ctl = start(
            root,
            "controller",
            "controller",
            {**env, "OVERCAST_HOST_NAME": "controller"},
            ["--workers", str(args.workers), "--port", str(port)],
        )
        procs.append(ctl[0])
        # `serve` runs api workers plus one process for the rest, or one process for all.
        wait_ready(ctl[1], args.workers + 1 if args.workers > 1 else 1, ctl[0], 300)
        # Compute nodes act with the service credentials the controller bootstrapped.
        password = (root / "controller" / "admin-password").read_text().strip()
        env["OVERCAST_SERVICE_PASSWORD"] = password
        conductors = []
        for i in range(2, args.conductors + 1):
            name = f"conductor{i}"
            conductors.append(
                start(root, name, "scheduler,conductor", {**env, "OVERCAST_HOST_NAME": name}, [])
            )
            procs.append(conductors[-1][0])
        per, extra = divmod(args.hosts, max(1, args.compute_processes))
        computes = []
        for i in range(args.compute_processes):
            name = f"cn{i + 1}"
            hosts = per + (1 if i < extra else 0)
            computes.append(
                start(
                    root,
                    name,
                    "compute",
                    {
                        **env,
                        "OVERCAST_HOST_NAME": name,
                        "OVERCAST_COMPUTE__HOST_PREFIX": f"{name}-",
                        "OVERCAST_COMPUTE__FAKE_HOSTS": str(hosts),
                    },
                    [],
                )
            )
            procs.append(computes[-1][0])
        for proc, log in conductors + computes:
            wait_ready(log, 1, proc, 600)
        started = time.monotonic() - began
        clouds = root / "controller" / "clouds.yaml"
        result: dict[str, object] = {
            "cloud": {
                "api_workers": args.workers,
                "conductors": args.conductors,
                "compute_processes": args.compute_processes,
                "fake_hosts": args.hosts,
                "bus": "rabbitmq",
                "database": args.database_url.split(":", 1)[0],
                "start_s": round(started, 1),
            }
        }
        if command:
            database = urlsplit(args.database_url).path.lstrip("/")  # ?host=/a/socket too
            groups = [
                f"{name}={pid}" for name, pid in controller_processes(ctl[0].pid, args.workers)
            ]
            groups += [f"{log.parent.name}={proc.pid}" for proc, log in conductors + computes]
            groups += [f"postgres=~{database}", "rabbitmq=~beam.smp", "client=self"]
            fill = {
                "{auth_url}": env["OVERCAST_PUBLIC_URL"] + "/v3",
                "{admin_password}": password,
                "{cpu_groups}": ",".join(groups),
            }
            for key, value in fill.items():
                command = [part.replace(key, value) for part in command]
            done = subprocess.run(
                command,
                env={**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds)},
                capture_output=True,
                text=True,
            )
            try:
                result["result"] = json.loads(done.stdout)
            except ValueError:
                result["result"] = {"stdout": done.stdout[-2000:], "stderr": done.stderr[-2000:]}
        print(json.dumps(result, indent=2))
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
