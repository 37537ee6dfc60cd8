"""Image benchmark: upload and download throughput of one large image against any Glance v2.

    python bench/image.py --cloud NAME [--size-mb 1024] [--server-pid PID] [--chunk-mb 4]

Connects with openstacksdk through clouds.yaml (`--cloud`), creates a raw/bare image, uploads
`--size-mb` MiB to it (PUT /file, streamed with chunked transfer), downloads it back (GET /file,
streamed and discarded, then checked against the md5 Glance reports), and deletes it. With
`--server-pid` it samples the server's resident memory from /proc during both phases, to show
that neither buffers the image. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import openstack

MIB = 1 << 20


class RssSampler:
    """Samples VmRSS of a process every `interval` seconds in a thread."""

    def __init__(self, pid: int | None, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def rss(self) -> int | None:
        if self.pid is None:
            return None
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return None

    def cpu(self) -> tuple[float, float]:
        """User and system CPU seconds the process has used so far."""
        if self.pid is None:
            return (0.0, 0.0)
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) / tick, int(fields[12]) / tick)

    def __enter__(self) -> RssSampler:
        if self.pid is not None:
            self.cpu_start = self.cpu()
            self.samples = [self.rss() or 0]
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append(self.rss() or 0)

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self.samples.append(self.rss() or 0)
            user, system = self.cpu()
            self.cpu_used = (user - self.cpu_start[0], system - self.cpu_start[1])

    def report(self) -> dict[str, float] | None:
        if not self.samples:
            return None
        start, peak = self.samples[0], max(self.samples)
        return {
            "rss_start_mb": round(start / MIB, 1),
            "rss_peak_mb": round(peak / MIB, 1),
            "rss_growth_mb": round((peak - start) / MIB, 1),
            "samples": len(self.samples),
            "server_cpu_s": round(sum(self.cpu_used), 2),
            "server_cpu_user_s": round(self.cpu_used[0], 2),
            "server_cpu_system_s": round(self.cpu_used[1], 2),
        }


def _data(size: int, chunk: int) -> Iterator[bytes]:
    """`size` bytes in chunks of `chunk`: one random block repeated (cheap to produce)."""
    block = os.urandom(chunk)
    sent = 0
    while sent < size:
        piece = block if size - sent >= chunk else block[: size - sent]
        sent += len(piece)
        yield piece


def _rate(nbytes: int, seconds: float) -> dict[str, float]:
    return {
        "seconds": round(seconds, 3),
        "mib_per_s": round(nbytes / MIB / seconds, 1),
        "mb_per_s": round(nbytes / 1e6 / seconds, 1),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    conn = openstack.connect(cloud=args.cloud)
    size, chunk = args.size_mb * MIB, args.chunk_mb * MIB
    image = conn.image.create_image(
        f"bench-{uuid.uuid4().hex[:8]}",
        disk_format="raw",
        container_format="bare",
        allow_duplicates=True,
    )
    result: dict[str, Any] = {"cloud": args.cloud, "size_bytes": size, "chunk_bytes": chunk}
    try:
        expected = hashlib.md5(usedforsecurity=False)
        with RssSampler(args.server_pid) as rss:
            started, cpu = time.perf_counter(), time.process_time()
            answer = image.upload(conn.image, data=_data(size, chunk))
            upload_s, cpu = time.perf_counter() - started, time.process_time() - cpu
        answer.raise_for_status()
        result["upload"] = {
            **_rate(size, upload_s),
            "client_cpu_s": round(cpu, 2),
            "memory": rss.report(),
        }
        shown = conn.image.get_image(image.id)
        assert shown.status == "active" and shown.size == size, (shown.status, shown.size)

        received = 0
        with RssSampler(args.server_pid) as rss:
            started, cpu = time.perf_counter(), time.process_time()
            response = conn.image.get(f"/images/{image.id}/file", stream=True)
            response.raise_for_status()
            for piece in response.iter_content(chunk_size=chunk):
                received += len(piece)
                if args.verify:
                    expected.update(piece)
            download_s, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert received == size, (received, size)
        result["download"] = {
            **_rate(size, download_s),
            "client_cpu_s": round(cpu, 2),
            "memory": rss.report(),
        }
        if args.verify:
            result["download"]["md5_matches"] = expected.hexdigest() == shown.checksum
    finally:
        conn.image.delete_image(image.id, ignore_missing=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud", required=True, help="a cloud in clouds.yaml")
    parser.add_argument("--size-mb", type=int, default=1024, help="image size in MiB")
    parser.add_argument("--chunk-mb", type=int, default=4, help="client chunk size in MiB")
    parser.add_argument("--server-pid", type=int, help="sample this process's RSS from /proc")
    parser.add_argument(
        "--verify", action="store_true", help="md5 the download on the client (costs CPU)"
    )
    print(json.dumps(run(parser.parse_args()), indent=2))


if __name__ == "__main__":
    main()
