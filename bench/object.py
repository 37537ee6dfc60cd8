"""Object storage benchmark against any Swift endpoint (through clouds.yaml, or Swift's own
v1 auth, e.g. a Swift all-in-one with tempauth to compare with).

    python bench/object.py (--cloud NAME | --auth URL --user ACCOUNT:USER --key KEY)
                           [--small N] [--concurrency 10] [--large-mb 64]
                           [--large-count 3] [--server-pid PID ...]

Uses python-swiftclient (the client Swift's users have), authenticated once with the cloud's
Keystone session (or the v1 auth URL), every client reusing the token. Small objects: N PUTs of 4 KiB at `--concurrency` in parallel threads, then
N GETs, then N DELETEs, each timed as a rate. Large objects: `--large-count` PUTs of
`--large-mb` MiB each (streamed from memory) and as many GETs, as MB/s. With `--server-pid`
it also reports the server's CPU seconds per phase. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openstack
import swiftclient

MIB = 1 << 20


def connect(
    cloud: str | None, auth: str | None = None, user: str = "", key: str = ""
) -> Callable[[], swiftclient.Connection]:
    if cloud is not None:
        conn = openstack.connect(cloud=cloud)
        url = conn.session.get_endpoint(service_type="object-store", interface="public")
        token = conn.session.get_token()
    else:
        url, token = swiftclient.Connection(authurl=auth, user=user, key=key).get_auth()
    return lambda: swiftclient.Connection(preauthurl=url, preauthtoken=token, retries=0)


def cpu(pids: list[int] | None) -> float:
    """CPU seconds of the server's processes (and their threads) so far."""
    total = 0.0
    for pid in pids or []:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def rate(
    name: str,
    count: int,
    workers: int,
    make: Callable[[], Any],
    op: Callable[[Any, int], None],
    pid: list[int] | None,
) -> dict[str, Any]:
    clients = [make() for _ in range(workers)]
    per = [list(range(i, count, workers)) for i in range(workers)]

    def run(w: int) -> None:
        for n in per[w]:
            op(clients[w], n)

    start_cpu = cpu(pid)
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, range(workers)))
    elapsed = time.perf_counter() - start
    for c in clients:
        c.close()
    return {
        f"{name}_per_s": round(count / elapsed, 1),
        f"{name}_server_cpu_ms_per_op": round((cpu(pid) - start_cpu) * 1000 / count, 3)
        if pid
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--cloud", help="a clouds.yaml entry (Keystone)")
    who.add_argument("--auth", help="a v1 auth URL (Swift's tempauth)")
    parser.add_argument("--user", default="", help="with --auth: ACCOUNT:USER")
    parser.add_argument("--key", default="", help="with --auth: the user's key")
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--large-mb", type=int, default=64)
    parser.add_argument("--large-count", type=int, default=3)
    parser.add_argument("--server-pid", type=int, nargs="+", help="the server's processes")
    args = parser.parse_args()
    make = connect(args.cloud, args.auth, args.user, args.key)
    container = f"bench-{uuid.uuid4().hex[:8]}"
    admin = make()
    admin.put_container(container)
    data = os.urandom(4096)
    out: dict[str, Any] = {
        "cloud": args.cloud or args.auth,
        "small_bytes": 4096,
        "concurrency": args.concurrency,
    }
    pid = args.server_pid

    def put(c: Any, n: int) -> None:
        c.put_object(container, f"o{n:06d}", data, content_length=len(data))

    def get(c: Any, n: int) -> None:
        _headers, body = c.get_object(container, f"o{n:06d}")
        assert len(body) == 4096

    def delete(c: Any, n: int) -> None:
        c.delete_object(container, f"o{n:06d}")

    out |= rate("small_put", args.small, args.concurrency, make, put, pid)
    out |= rate("small_get", args.small, args.concurrency, make, get, pid)
    out |= rate("small_delete", args.small, args.concurrency, make, delete, pid)

    big = os.urandom(args.large_mb * MIB)

    start_cpu = cpu(pid)
    start = time.perf_counter()
    for n in range(args.large_count):
        admin.put_object(container, f"big{n}", io.BytesIO(big), content_length=len(big))
    put_s = time.perf_counter() - start
    put_cpu = cpu(pid) - start_cpu
    start_cpu = cpu(pid)
    start = time.perf_counter()
    for n in range(args.large_count):
        _headers, body = admin.get_object(container, f"big{n}", resp_chunk_size=4 * MIB)
        size = sum(len(chunk) for chunk in body)
        assert size == len(big)
    get_s = time.perf_counter() - start
    get_cpu = cpu(pid) - start_cpu
    total_mb = args.large_mb * args.large_count * MIB / 1e6
    out |= {
        "large_mib": args.large_mb,
        "large_put_mb_per_s": round(total_mb / put_s, 1),
        "large_get_mb_per_s": round(total_mb / get_s, 1),
        "large_put_server_cpu_s": round(put_cpu, 2) if pid else None,
        "large_get_server_cpu_s": round(get_cpu, 2) if pid else None,
    }
    for n in range(args.large_count):
        admin.delete_object(container, f"big{n}")
    admin.delete_container(container)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
