"""Tracing benchmark: what recording a boot's trace costs, and how soon a step reaches a reader
of the trace stream.

    python bench/trace.py --cloud NAME [--compare-cloud NAME] [--boots 10] [--streams 5]
        [--image IMG --flavor FLAVOR --network none]

A cloud is a name in clouds.yaml, or NAME@/path/to/clouds.yaml (two local clouds each write
their own file). Phases:
- boots: create -> ACTIVE (polled every 5 ms), one server at a time, deleted after each; with
  --compare-cloud (the same cloud with `trace.enabled = false`, say) the boots alternate
  between the two and the output gives both and the difference. On a loaded machine wall
  times are mostly queueing: with --pid/--compare-pid (the local servers' process ids, e.g.
  DATA_DIR/overcast.pid) the CPU time each server spent per boot is given too, the steadier
  figure.
- gets: --gets GET /servers/{id} of one server per cloud, alternating: what a request that is
  not a workflow pays (its spans are held in memory and dropped, never written).
- stream: --streams more boots on the traced cloud, each with its trace stream (GET
  /servers/{id}/trace, Accept: text/event-stream) opened as soon as the server's id is known;
  every span that ends after the stream opened is timed from its end (start + duration, the
  cloud's clock) to its arrival here (this machine's clock: run it on the cloud's host, or
  read the figure as including the clocks' skew).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import threading
import time
import uuid
from typing import Any

import openstack
import openstack.config
import stats


def connect(spec: str) -> Any:
    name, _, path = spec.partition("@")
    if not path:
        return openstack.connect(cloud=name)
    config = openstack.config.OpenStackConfig(config_files=[path])
    return openstack.connection.Connection(config=config.get_one(cloud=name))


class Cloud:
    def __init__(self, spec: str, args: argparse.Namespace) -> None:
        self.conn = connect(spec)
        self.compute = self.conn.compute
        self.image = self.conn.image.find_image(args.image, ignore_missing=False)
        self.flavor = self.compute.find_flavor(args.flavor, ignore_missing=False)
        self.network = args.network

    def create(self) -> str:
        body = {
            "server": {
                "name": f"bench-trace-{uuid.uuid4().hex[:6]}",
                "imageRef": self.image.id,
                "flavorRef": self.flavor.id,
                "networks": self.network,
            }
        }
        response = self.compute.post("/servers", json=body, microversion="2.37")
        if response.status_code >= 400:
            raise RuntimeError(f"boot failed: {response.status_code} {response.text}")
        return str(response.json()["server"]["id"])

    def wait_active(self, server_id: str, started: float) -> float:
        while True:
            server = self.compute.get(f"/servers/{server_id}").json()["server"]
            if server["status"] == "ACTIVE" and not server.get("OS-EXT-STS:task_state"):
                return (time.perf_counter() - started) * 1000
            if server["status"] == "ERROR":
                raise RuntimeError(f"server {server_id} failed: {server.get('fault')}")
            time.sleep(0.005)

    def delete(self, server_id: str) -> None:
        self.compute.delete(f"/servers/{server_id}")


def _epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def listen(cloud: Cloud, server_id: str, delays: list[float], steps: list[str]) -> None:
    """Read the server's trace stream until it ends; the delay of each span that ends."""
    response = cloud.compute.get(
        f"/servers/{server_id}/trace", headers={"Accept": "text/event-stream"}, stream=True
    )
    if response.status_code != 200:
        return
    opened = time.time()
    event = ""
    for line in response.iter_lines(chunk_size=None, decode_unicode=True):
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "span":
            arrived = time.time()
            span = json.loads(line[6:])
            ended = _epoch(span["start"]) + (span["duration_ms"] or 0) / 1000
            if span["phase"] == "end" and ended >= opened:  # not one written before we asked
                delays.append((arrived - ended) * 1000)
                if span["kind"] == "step":
                    steps.append(span["name"])
        elif event == "end":
            return


def boots(args: argparse.Namespace) -> dict[str, Any]:
    clouds = {"traced": Cloud(args.cloud, args)}
    if args.compare_cloud:
        clouds["compared"] = Cloud(args.compare_cloud, args)
    times: dict[str, list[float]] = {name: [] for name in clouds}
    pids = {"traced": args.pid, "compared": args.compare_pid}
    cpu = {name: 0.0 for name in clouds}
    delays: list[float] = []
    steps: list[str] = []
    for _ in range(args.boots):
        for name, cloud in clouds.items():
            before = stats.cpu_seconds(pids[name])
            started = time.perf_counter()
            server_id = cloud.create()
            times[name].append(cloud.wait_active(server_id, started))
            cloud.delete(server_id)
            time.sleep(0.05)  # the delete's work, counted with its boot
            cpu[name] += stats.cpu_seconds(pids[name]) - before
    traced = clouds["traced"]
    for _ in range(args.streams):
        started = time.perf_counter()
        server_id = traced.create()
        reader = threading.Thread(target=listen, args=(traced, server_id, delays, steps))
        reader.start()
        traced.wait_active(server_id, started)
        reader.join(timeout=30)
        traced.delete(server_id)
    out: dict[str, Any] = {name: stats.summary(values) for name, values in times.items()}
    for name in clouds:
        if pids[name]:
            out[name]["cpu_ms_per_boot"] = round(cpu[name] / args.boots * 1000, 1)
    if "compared" in out:
        a, b = out["traced"]["p50_ms"], out["compared"]["p50_ms"]
        out["overhead_p50_ms"] = round(a - b, 2)
        out["overhead_p50_pct"] = round((a - b) / b * 100, 1) if b else None
    out["stream_delay"] = {
        **stats.summary(delays),
        "max_ms": round(max(delays), 2) if delays else None,
        "spans": len(delays),
        "steps_seen": sorted(set(steps)),
    }
    return out


def gets(args: argparse.Namespace) -> dict[str, Any]:
    clouds = {"traced": Cloud(args.cloud, args)}
    if args.compare_cloud:
        clouds["compared"] = Cloud(args.compare_cloud, args)
    servers = {}
    for name, cloud in clouds.items():
        started = time.perf_counter()
        servers[name] = cloud.create()
        cloud.wait_active(servers[name], started)
    times: dict[str, list[float]] = {name: [] for name in clouds}
    for _ in range(args.gets):
        for name, cloud in clouds.items():
            started = time.perf_counter()
            cloud.compute.get(f"/servers/{servers[name]}")
            times[name].append((time.perf_counter() - started) * 1000)
    for name, cloud in clouds.items():
        cloud.delete(servers[name])
    out: dict[str, Any] = {name: stats.summary(values) for name, values in times.items()}
    if "compared" in out:
        out["overhead_p50_ms"] = round(out["traced"]["p50_ms"] - out["compared"]["p50_ms"], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cloud", required=True, help="the traced cloud (NAME or NAME@FILE)")
    parser.add_argument("--compare-cloud", help="the same cloud with tracing off")
    parser.add_argument("--image", default="overcast-guest")
    parser.add_argument("--flavor", default="m1.tiny")
    parser.add_argument("--network", default="none")
    parser.add_argument("--boots", type=int, default=10)
    parser.add_argument("--streams", type=int, default=5, help="boots whose stream is timed")
    parser.add_argument("--gets", type=int, default=200, help="GETs of one server per cloud")
    parser.add_argument("--pid", type=int, help="the traced cloud's server process (local)")
    parser.add_argument("--compare-pid", type=int, help="the compared cloud's server process")
    args = parser.parse_args(argv)
    print(json.dumps({"boot": boots(args), "get": gets(args)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
