"""Object storage benchmark against any Swift endpoint (through clouds.yaml, or Swift's own
v1 auth, e.g. a Swift all-in-one with tempauth to compare with).

    python bench/object.py (--cloud NAME | --auth URL --user ACCOUNT:USER --key KEY)
                           [--small N] [--concurrency 10] [--processes P] [--large-mb 64]
                           [--large-count 3] [--client swiftclient|http] [--server-pid PID ...]

Uses python-swiftclient (the client Swift's users have; `--client swiftclient`, the default)
or plain http.client keep-alive connections speaking the same v1 API (`--client http`: about a
millisecond less client CPU per request, which on a small machine the server shares with the
clients otherwise holds both Swift's and Overcast's rates near the clients' limit; compare two
clouds with the same client). Authenticated once with the cloud's Keystone session (or the v1
auth URL), every client reusing the token. Small objects: N PUTs
of 4 KiB at `--concurrency` (connections in threads, spread over `--processes` client
processes: one interpreter's GIL would cap the rate at what one core of client work allows),
then N GETs, then N DELETEs, each timed as a rate with the clients' CPU per request. Large
objects: `--large-count` PUTs of `--large-mb` MiB each (streamed from memory) and as many
GETs, as MB/s. With `--server-pid` it also reports the CPU seconds per phase of those processes and the
processes below them.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import multiprocessing
import os
import resource
import socket
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, BinaryIO

import openstack
import stats
import swiftclient

MIB = 1 << 20


def connect(
    cloud: str | None, auth: str | None = None, user: str = "", key: str = ""
) -> tuple[str, str]:
    """The object store's URL and a token for it."""
    if cloud is not None:
        conn = openstack.connect(cloud=cloud)
        url = conn.session.get_endpoint(service_type="object-store", interface="public")
        token = conn.session.get_token()
    else:
        url, token = swiftclient.Connection(authurl=auth, user=user, key=key).get_auth()
    return str(url), str(token)


class PlainClient:
    """The three calls the bench makes, as python-swiftclient's Connection names them, over one
    http.client keep-alive connection (TCP_NODELAY, as urllib3 sets it: http.client sends a
    body apart from its headers, which would otherwise wait for the server's delayed ACK)."""

    def __init__(self, url: str, token: str) -> None:
        parts = urllib.parse.urlsplit(url)
        assert parts.scheme == "http", "--client http speaks plain http only"
        self.host, self.root, self.token = parts.netloc, parts.path.rstrip("/"), token
        self.conn: http.client.HTTPConnection | None = None

    def _call(
        self, method: str, path: str, body: bytes | BinaryIO | None = None, length: int = 0
    ) -> http.client.HTTPResponse:
        headers = {"X-Auth-Token": self.token}
        if body is not None:
            headers["Content-Length"] = str(length)
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, timeout=300, blocksize=1 << 20)
            self.conn.connect()
            assert self.conn.sock is not None
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn.request(method, f"{self.root}/{path}", body=body, headers=headers)
        response = self.conn.getresponse()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {response.read()[:200]!r}")
        return response

    def put_object(
        self, container: str, name: str, data: bytes | BinaryIO, content_length: int
    ) -> None:
        self._call("PUT", f"{container}/{name}", data, content_length).read()

    def get_object(
        self, container: str, name: str, resp_chunk_size: int | None = None
    ) -> tuple[dict[str, str], Any]:
        response = self._call("GET", f"{container}/{name}")
        headers = dict(response.getheaders())
        if resp_chunk_size is None:
            return headers, response.read()

        def chunks() -> Iterator[bytes]:
            while chunk := response.read(resp_chunk_size):
                yield chunk

        return headers, chunks()

    def delete_object(self, container: str, name: str) -> None:
        self._call("DELETE", f"{container}/{name}").read()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def client(kind: str, url: str, token: str) -> Any:
    """A swiftclient Connection or a PlainClient for the object store at `url`."""
    if kind == "http":
        return PlainClient(url, token)
    return swiftclient.Connection(preauthurl=url, preauthtoken=token, retries=0)


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _op(c: Any, op: str, container: str, n: int, data: bytes) -> None:
    name = f"o{n:06d}"
    if op == "put":
        c.put_object(container, name, data, content_length=len(data))
    elif op == "get":
        _headers, body = c.get_object(container, name)
        assert len(body) == len(data)
    else:
        c.delete_object(container, name)


def _worker(
    pipe: Connection, kind: str, url: str, token: str, container: str, threads: int, data: bytes
) -> None:
    """One client process: `threads` client connections, each in a thread of its own,
    running the numbered operations each phase hands it."""
    clients = [client(kind, url, token) for _ in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        while (job := pipe.recv()) is not None:
            op, numbers = job
            per = [numbers[i::threads] for i in range(threads)]

            def run(w: int, op: str = op, per: list[list[int]] = per) -> None:
                for n in per[w]:
                    _op(clients[w], op, container, n, data)

            pipe.send("ready")
            pipe.recv()  # go
            cpu_start, start = _cpu_self(), time.perf_counter()
            list(pool.map(run, range(threads)))
            pipe.send((start, time.perf_counter(), _cpu_self() - cpu_start))
    for c in clients:
        c.close()


class Clients:
    """`concurrency` client connections spread over `processes` client processes, so that the
    clients' own CPU (about a millisecond a request through swiftclient) is not all bound by
    one interpreter's GIL."""

    def __init__(
        self,
        kind: str,
        url: str,
        token: str,
        container: str,
        concurrency: int,
        processes: int,
        data: bytes,
    ) -> None:
        ctx = multiprocessing.get_context("fork")
        self.pipes: list[Connection] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        for p in range(processes):
            threads = concurrency // processes + (p < concurrency % processes)
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(
                target=_worker,
                args=(theirs, kind, url, token, container, threads, data),
                daemon=True,
            )
            proc.start()
            self.pipes.append(mine)
            self.procs.append(proc)

    def rate(self, name: str, op: str, count: int, pid: list[int] | None) -> dict[str, Any]:
        shares = [list(range(i, count, len(self.pipes))) for i in range(len(self.pipes))]
        for pipe, share in zip(self.pipes, shares, strict=True):
            pipe.send((op, share))
        for pipe in self.pipes:
            assert pipe.recv() == "ready"
        start_cpu = stats.tree_cpu_seconds(*pid or ())
        for pipe in self.pipes:
            pipe.send("go")
        done = [pipe.recv() for pipe in self.pipes]
        elapsed = max(d[1] for d in done) - min(d[0] for d in done)
        return {
            f"{name}_per_s": round(count / elapsed, 1),
            f"{name}_client_cpu_ms_per_op": round(sum(d[2] for d in done) * 1000 / count, 3),
            f"{name}_server_cpu_ms_per_op": round(
                (stats.tree_cpu_seconds(*pid or ()) - start_cpu) * 1000 / count, 3
            )
            if pid
            else None,
        }

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(None)
        for proc in self.procs:
            proc.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--cloud", help="a clouds.yaml entry (Keystone)")
    who.add_argument("--auth", help="a v1 auth URL (Swift's tempauth)")
    parser.add_argument("--user", default="", help="with --auth: ACCOUNT:USER")
    parser.add_argument("--key", default="", help="with --auth: the user's key")
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="client processes the concurrent connections are spread over (default: the cores)",
    )
    parser.add_argument(
        "--client",
        choices=("swiftclient", "http"),
        default="swiftclient",
        help="python-swiftclient, or plain http.client keep-alive connections",
    )
    parser.add_argument("--large-mb", type=int, default=64)
    parser.add_argument("--large-count", type=int, default=3)
    parser.add_argument("--server-pid", type=int, nargs="+", help="the server's processes")
    args = parser.parse_args()
    url, token = connect(args.cloud, args.auth, args.user, args.key)
    container = f"bench-{uuid.uuid4().hex[:8]}"
    swiftclient.Connection(preauthurl=url, preauthtoken=token, retries=0).put_container(container)
    admin = client(args.client, url, token)
    data = os.urandom(4096)
    out: dict[str, Any] = {
        "cloud": args.cloud or args.auth,
        "small_bytes": 4096,
        "client": args.client,
        "concurrency": args.concurrency,
        "client_processes": min(args.processes, args.concurrency),
    }
    pid = args.server_pid
    clients = Clients(
        args.client, url, token, container, args.concurrency, out["client_processes"], data
    )
    try:
        for op in ("put", "get", "delete"):
            out |= clients.rate(f"small_{op}", op, args.small, pid)
    finally:
        clients.close()

    big = os.urandom(args.large_mb * MIB)

    start_cpu = stats.tree_cpu_seconds(*pid or ())
    start = time.perf_counter()
    for n in range(args.large_count):
        admin.put_object(container, f"big{n}", io.BytesIO(big), content_length=len(big))
    put_s = time.perf_counter() - start
    put_cpu = stats.tree_cpu_seconds(*pid or ()) - start_cpu
    start_cpu = stats.tree_cpu_seconds(*pid or ())
    start = time.perf_counter()
    for n in range(args.large_count):
        _headers, body = admin.get_object(container, f"big{n}", resp_chunk_size=4 * MIB)
        size = sum(len(chunk) for chunk in body)
        assert size == len(big)
    get_s = time.perf_counter() - start
    get_cpu = stats.tree_cpu_seconds(*pid or ()) - start_cpu
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
    admin.close()
    swiftclient.Connection(preauthurl=url, preauthtoken=token, retries=0).delete_container(
        container
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
