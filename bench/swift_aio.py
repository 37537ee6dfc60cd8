"""OpenStack Swift as an all-in-one node, the reference `bench/object.py` is compared with.

    python bench/swift_aio.py up --dir /tmp/swift-aio --port 7280 [--bin /tmp/swift-venv/bin]
    python bench/swift_aio.py down --dir /tmp/swift-aio

Swift itself comes from PyPI in a virtualenv of its own, and memcached from the distribution:

    python3 -m venv /tmp/swift-venv && /tmp/swift-venv/bin/pip install swift==2.38.3
    apt-get install memcached

`up` writes the configuration under `--dir`: three devices (directories) in three zones, rings
of 3 replicas (partition power 10) for accounts, containers and objects, tempauth with the
user `admin:admin` (key `admin`, reseller admin), memcached; it starts memcached, the proxy
(port P), the account (P+1), container (P+2) and object (P+3) servers with one worker each,
and the object replicator, updater and auditor, the container replicator and updater and the
account replicator. The object server fsyncs every write as Swift does by default. It prints
one JSON object: the auth URL, the bench's arguments, and the server processes' ids to give
`bench/object.py --server-pid` (the proxy's and the three storage servers' workers). `down`
stops everything `up` started (by the ids it recorded).
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

DEVICES = ("d1", "d2", "d3")
PIPELINE = (
    "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl "
    "ratelimit tempauth copy container-quotas account-quotas slo dlo versioned_writes symlink "
    "proxy-logging proxy-server"
)
FILTERS = {
    "catch_errors": "catch_errors",
    "gatekeeper": "gatekeeper",
    "healthcheck": "healthcheck",
    "proxy-logging": "proxy_logging",
    "cache": "memcache",
    "listing_formats": "listing_formats",
    "bulk": "bulk",
    "tempurl": "tempurl",
    "ratelimit": "ratelimit",
    "copy": "copy",
    "container-quotas": "container_quotas",
    "account-quotas": "account_quotas",
    "slo": "slo",
    "dlo": "dlo",
    "versioned_writes": "versioned_writes",
    "symlink": "symlink",
}
SWIFT_CONF = """
[swift-hash]
swift_hash_path_suffix = overcast-bench
swift_hash_path_prefix = overcast-bench

[storage-policy:0]
name = Policy-0
default = yes
"""
SERVERS = {"account": 1, "container": 2, "object": 3}  # port offsets from the proxy's
DAEMONS = (
    "object-replicator",
    "object-updater",
    "object-auditor",
    "container-replicator",
    "container-updater",
    "account-replicator",
)


def _write(path: Path, text: str) -> None:
    path.write_text(text.strip() + "\n")


def configure(base: Path, port: int) -> None:
    srv = base / "srv"
    for dev in DEVICES:
        (srv / dev).mkdir(parents=True, exist_ok=True)
    (base / "run").mkdir(exist_ok=True)
    _write(base / "swift.conf", SWIFT_CONF)
    # Swift's daemons read /etc/swift/swift.conf before their swift_dir (the servers read
    # swift_dir's): the same file in both places.
    etc = Path("/etc/swift/swift.conf")
    if not etc.exists():
        etc.parent.mkdir(exist_ok=True)
        _write(etc, SWIFT_CONF)
    elif etc.read_text().strip() != SWIFT_CONF.strip():
        raise SystemExit(f"{etc} exists with other hash settings: Swift's daemons would use it")
    common = f"""
[DEFAULT]
bind_ip = 127.0.0.1
workers = 1
swift_dir = {base}
devices = {srv}
mount_check = false
user = {pwd.getpwuid(os.getuid()).pw_name}
"""
    filters = "\n".join(
        f"[filter:{name}]\nuse = egg:swift#{egg}\n"
        + (f"memcache_servers = 127.0.0.1:{port + 4}\n" if name == "cache" else "")
        for name, egg in FILTERS.items()
    )
    _write(
        base / "proxy-server.conf",
        f"""
{common}
bind_port = {port}

[pipeline:main]
pipeline = {PIPELINE}

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_admin_admin = admin .admin .reseller_admin

{filters}
""",
    )
    for kind, offset in SERVERS.items():
        sections = {
            "account": "[account-replicator]\n[account-auditor]\n",
            "container": "[container-replicator]\n[container-updater]\n[container-auditor]\n",
            "object": "[object-replicator]\n[object-updater]\n[object-auditor]\n",
        }[kind]
        _write(
            base / f"{kind}-server.conf",
            f"""
{common}
bind_port = {port + offset}

[pipeline:main]
pipeline = {kind}-server

[app:{kind}-server]
use = egg:swift#{kind}

{sections}
""",
        )


def build_rings(base: Path, port: int, bindir: Path) -> None:
    builder = str(bindir / "swift-ring-builder")
    for kind, offset in SERVERS.items():
        ring = str(base / f"{kind}.builder")
        subprocess.run([builder, ring, "create", "10", "3", "1"], check=True, capture_output=True)
        for zone, dev in enumerate(DEVICES, 1):
            subprocess.run(
                [builder, ring, "add", f"r1z{zone}-127.0.0.1:{port + offset}/{dev}", "100"],
                check=True,
                capture_output=True,
            )
        subprocess.run([builder, ring, "rebalance"], check=True, capture_output=True)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(p) for p in handle.read().split()]
    except FileNotFoundError:
        return []


def up(base: Path, port: int, bindir: Path) -> dict[str, object]:
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    configure(base, port)
    build_rings(base, port, bindir)
    logs = open(base / "run" / "log", "ab")  # noqa: SIM115 - handed to the children
    started: dict[str, int] = {}

    def start(name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, stdout=logs, stderr=logs, start_new_session=True)
        started[name] = proc.pid
        return proc

    start(
        "memcached",
        [
            "memcached",
            "-l",
            "127.0.0.1",
            "-p",
            str(port + 4),
            "-U",
            "0",
            "-u",
            "nobody" if os.geteuid() == 0 else os.environ.get("USER", ""),
        ],
    )
    servers = {
        "proxy": start(
            "proxy", [str(bindir / "swift-proxy-server"), str(base / "proxy-server.conf")]
        )
    }
    for kind in SERVERS:
        servers[kind] = start(
            kind, [str(bindir / f"swift-{kind}-server"), str(base / f"{kind}-server.conf")]
        )
    for daemon in DAEMONS:
        conf = base / f"{daemon.split('-')[0]}-server.conf"
        start(daemon, [str(bindir / f"swift-{daemon}"), str(conf)])
    (base / "run" / "pids.json").write_text(json.dumps(started))
    auth = f"http://127.0.0.1:{port}/auth/v1.0"
    deadline = time.monotonic() + 60
    while True:
        try:
            request = urllib.request.Request(
                auth, headers={"X-Auth-User": "admin:admin", "X-Auth-Key": "admin"}
            )
            with urllib.request.urlopen(request, timeout=5):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"Swift did not answer on {auth}; see {base}/run/log") from None
            time.sleep(0.5)
    workers = []
    for proc in servers.values():
        kids = _children(proc.pid)
        workers += kids or [proc.pid]
    return {
        "auth": auth,
        "bench_args": f"--auth {auth} --user admin:admin --key admin",
        "server_pids": workers,
        "pids": started,
    }


def down(base: Path) -> None:
    pids = json.loads((base / "run" / "pids.json").read_text())
    for pid in pids.values():
        try:
            os.killpg(pid, signal.SIGTERM)  # each was started in a session of its own
        except ProcessLookupError:
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=("up", "down"))
    parser.add_argument("--dir", type=Path, default=Path("/tmp/swift-aio"))
    parser.add_argument("--port", type=int, default=8080, help="the proxy's; P+1..P+4 used too")
    parser.add_argument("--bin", type=Path, default=Path(sys.executable).parent)
    args = parser.parse_args()
    if args.action == "up":
        print(json.dumps(up(args.dir.resolve(), args.port, args.bin)))
    else:
        down(args.dir)


if __name__ == "__main__":
    main()
