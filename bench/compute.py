"""Compute benchmark: boot latency and throughput, list latency, scheduler decision time,
against any OpenStack compute endpoint (openstacksdk for auth and discovery, plain REST calls).

    python bench/compute.py --cloud NAME [--image IMG --flavor FLAVOR --network none]
        [--single 20 --concurrent 200 --list-sizes 1000,10000 --keep]

Phases:
- single: boot one server at a time; create -> ACTIVE latency (polled every 5 ms); p50/p99.
- idle (--idle S): the CPU the cloud's processes (--cpu) use per second while nothing is asked.
- concurrent: N boots at once (or, with --rate R, one every 1/R s: an open loop); time until
  all are ACTIVE (watched as a client does: a list of the servers changed since its last look,
  every --poll s); per-server p50/p99, boots/s and, with --cpu, the CPU ms per boot of each
  group of processes; then delete all.
- list: grow the project to each size (multi-create, 100 per request) and time
  GET /servers/detail (all pages, as `openstack server list --long` fetches them), 5 runs.
- scheduler: the `scheduler_select_destinations` (or Nova's `schedule_instances`) event
  durations of the booted servers, i.e. one decision over every host the cloud has.
Prints one JSON object. It needs quota for the most servers it keeps at once: as an admin it
raises the project's quota to that and puts it back after (`quota` in the output); otherwise it
says what to ask an admin for, before booting anything (bench/quotas.py).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import json
import sys
import time
import uuid
from typing import Any

import openstack
import stats
from quotas import room_for

MICROVERSION = "2.47"


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.conn = openstack.connect(cloud=args.cloud)
        self.compute = self.conn.compute
        if args.tiny_image:  # the fake driver boots anything
            self.image = self.conn.image.create_image(
                name=f"bench-tiny-{uuid.uuid4().hex[:6]}",
                data=b"\0" * 4096,
                disk_format="raw",
                container_format="bare",
            )
        else:
            self.image = self.conn.image.find_image(args.image, ignore_missing=False)
        self.flavor = self.compute.find_flavor(args.flavor, ignore_missing=False)
        self.prefix = f"bench-{uuid.uuid4().hex[:6]}"
        self.created: list[str] = []

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.compute.post("/servers", json=body, microversion=MICROVERSION)
        if response.status_code >= 400:
            raise RuntimeError(f"boot failed: {response.status_code} {response.text}")
        return dict(response.json())

    def _body(self, name: str, count: int = 1) -> dict[str, Any]:
        server: dict[str, Any] = {
            "name": name,
            "imageRef": self.image.id,
            "flavorRef": self.flavor.id,
            "networks": self.args.network,
            "min_count": count,
            "max_count": count,
        }
        return {"server": server}

    def _status(self, server_id: str) -> str:
        response = self.compute.get(f"/servers/{server_id}", microversion=MICROVERSION)
        return str(response.json()["server"]["status"])

    def cpu(self, meter: stats.CpuMeter | None, per: float, unit: str) -> dict[str, Any]:
        """The CPU ms each group of processes used since meter.start(), per `unit` (`per` of
        them), and their total."""
        if meter is None or not per:
            return {}
        used = {name: round(cpu * 1000 / per, 2) for name, cpu in meter.stop().items()}
        return {f"cpu_ms_per_{unit}": {**used, "total": round(sum(used.values()), 2)}}

    def idle(self, seconds: float, meter: stats.CpuMeter | None) -> dict[str, Any]:
        """The cloud's CPU while nothing is asked of it (agents' reports, periodic tasks)."""
        if meter:
            meter.start()
        time.sleep(seconds)
        return {"seconds": seconds, **self.cpu(meter, seconds, "s")}

    def single(self, count: int) -> dict[str, Any]:
        latencies = []
        for i in range(count):
            started = time.perf_counter()
            sid = self._post(self._body(f"{self.prefix}-s{i}"))["server"]["id"]
            self.created.append(sid)
            while (status := self._status(sid)) not in ("ACTIVE", "ERROR"):
                time.sleep(0.005)
            if status == "ERROR":
                raise RuntimeError(f"server {sid} went to ERROR")
            latencies.append((time.perf_counter() - started) * 1000)
        return stats.summary(latencies)

    def concurrent(
        self, count: int, meter: stats.CpuMeter | None = None, rate: float = 0.0
    ) -> dict[str, Any]:
        """`count` boots at once (50 clients posting in turn), or with `rate` one every
        1/rate s whatever the cloud's answers (an open loop: a boot's time counts from when it
        was due, so a cloud that falls behind shows it in the latencies)."""
        if meter:
            meter.start()
        started = time.perf_counter()
        since = first = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
        begun: dict[str, float] = {}
        answered: list[float] = []

        def one(i: int) -> None:
            due = started + i / rate if rate else time.perf_counter()
            time.sleep(max(0.0, due - time.perf_counter()))
            sid = self._post(self._body(f"{self.prefix}-c{i}"))["server"]["id"]
            begun[sid] = due
            answered.append(time.perf_counter())

        clients = min(count, 200 if rate else 50)
        pool = cf.ThreadPoolExecutor(max_workers=clients)
        posts = [pool.submit(one, i) for i in range(count)]
        done: dict[str, float] = {}
        errors = 0
        deadline = time.perf_counter() + 300
        news = time.perf_counter()
        overlap = dt.timedelta(seconds=self.args.overlap)
        # Watched while the boots are asked for, as a client that watches a burst does: only
        # the servers changed since its last look (with --overlap for the stamps' resolution
        # and commits that took their time); a look at them all when a second brought
        # nothing (a commit later still).
        while len(done) < count and time.perf_counter() < deadline:
            failed = [f.exception() for f in posts if f.done() and f.exception()]
            if failed:
                raise failed[0]
            asked = dt.datetime.now(dt.UTC)
            stalled = time.perf_counter() - news > 1
            for s in self._list(f"^{self.prefix}-c", first if stalled else since):
                if s["id"] in begun and s["id"] not in done and s["status"] in ("ACTIVE", "ERROR"):
                    if s["status"] == "ERROR":
                        errors += 1
                    done[s["id"]] = news = time.perf_counter()
            if stalled:
                news = time.perf_counter()
            since = asked - overlap
            time.sleep(self.args.poll)
        pool.shutdown()
        posted = max(answered, default=started)
        total = time.perf_counter() - started
        cpu = self.cpu(meter, len(done), "boot")
        ids = list(begun)
        self.created.extend(ids)
        deleted = None if self.args.keep else self._delete(ids)
        latencies = [(done[s] - begun[s]) * 1000 for s in done]
        return {
            **({"offered_per_s": rate} if rate else {}),
            **stats.summary(latencies),
            "all_active_s": round(total, 3),
            "errors": errors,
            "boots_per_s": round(len(done) / total, 1),
            "requests_s": round(posted - started, 3),
            "delete_all_s": deleted,
            **cpu,
        }

    def _list(
        self, name: str | None = None, since: dt.datetime | None = None
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 1000}
        if name:
            params["name"] = name
        if since:
            params["changes-since"] = since.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        while True:
            query = "&".join(f"{k}={v}" for k, v in params.items())
            body = self.compute.get(f"/servers/detail?{query}", microversion=MICROVERSION).json()
            out.extend(body["servers"])
            if not body.get("servers_links") or not body["servers"]:
                return out
            params["marker"] = body["servers"][-1]["id"]

    def _delete(self, ids: list[str]) -> float:
        started = time.perf_counter()
        with cf.ThreadPoolExecutor(max_workers=20) as pool:
            list(pool.map(lambda sid: self.compute.delete(f"/servers/{sid}"), ids))
        remaining = set(ids)
        deadline = time.perf_counter() + 300
        while remaining and time.perf_counter() < deadline:
            remaining &= {s["id"] for s in self._list(f"^{self.prefix}")}
            time.sleep(0.05)
        self.created = [c for c in self.created if c not in set(ids)]
        return round(time.perf_counter() - started, 3)

    def listing(self, sizes: list[int]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        have = len(self._list())
        for size in sizes:
            while have < size:
                batch = min(100, size - have)
                self._post(self._body(f"{self.prefix}-l", batch))
                have += batch
            deadline = time.perf_counter() + 600
            while time.perf_counter() < deadline:
                servers = self._list()
                if sum(s["status"] in ("ACTIVE", "ERROR") for s in servers) >= size:
                    break
                time.sleep(0.5)
            self.created.extend(s["id"] for s in servers if s["name"].startswith(self.prefix))
            runs = []
            for _ in range(5):
                t0 = time.perf_counter()
                found = len(self._list())
                runs.append((time.perf_counter() - t0) * 1000)
            out[str(size)] = {"servers": found, **stats.summary(runs)}
        return out

    def scheduler(self, ids: list[str]) -> dict[str, Any]:
        names = ("scheduler_select_destinations", "schedule_instances")
        durations = []
        for sid in ids[:50]:
            for action in self.compute.server_actions(sid):
                if action.action != "create":
                    continue
                detail = self.compute.get_server_action(action.request_id, sid)
                for event in detail.events or []:
                    if event["event"] in names and event.get("finish_time"):
                        start = dt.datetime.fromisoformat(event["start_time"])
                        finish = dt.datetime.fromisoformat(event["finish_time"])
                        durations.append((finish - start).total_seconds() * 1000)
        hypervisors = len(list(self.compute.hypervisors())) if self._admin() else None
        return {"hosts": hypervisors, **stats.summary(durations)}

    def _admin(self) -> bool:
        try:
            list(self.compute.hypervisors())
        except openstack.exceptions.SDKException:
            return False
        return True

    def cleanup(self) -> float:
        ids = [s["id"] for s in self._list(f"^{self.prefix}")]
        return self._delete(ids) if ids else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cloud", required=True, help="a cloud in clouds.yaml")
    parser.add_argument("--image", default="overcast-guest")
    parser.add_argument(
        "--tiny-image",
        action="store_true",
        help="boot a 4 KiB image made for the run (fake driver)",
    )
    parser.add_argument("--flavor", default="m1.tiny")
    parser.add_argument("--network", default="none", help="'none', 'auto' (needs 2.37)")
    parser.add_argument("--single", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument(
        "--rate", type=float, default=0, help="boots/s offered in the concurrent phase (0: all)"
    )
    parser.add_argument("--list-sizes", default="1000,10000")
    parser.add_argument("--keep", action="store_true", help="leave the servers behind")
    parser.add_argument("--poll", type=float, default=0.05, help="s between looks at a burst")
    parser.add_argument(
        "--overlap",
        type=float,
        default=1.0,
        help="s each look at a burst goes back before the last",
    )
    parser.add_argument(
        "--cpu",
        default="",
        help="NAME=PID (with the processes below it), NAME=~WORD (processes with WORD in their"
        " command line: a database's PostgreSQL backends, beam.smp), NAME=self, comma-separated:"
        " their CPU ms per boot of the concurrent phase, and per second of --idle",
    )
    parser.add_argument("--idle", type=float, default=0, help="s to measure the idle cloud's CPU")
    args = parser.parse_args(argv)
    bench = Bench(args)
    result: dict[str, Any] = {"cloud": args.cloud, "microversion": MICROVERSION}
    sizes = [int(s) for s in args.list_sizes.split(",") if s]
    most = max([args.single + args.concurrent, *sizes])
    groups = stats.parse_groups(args.cpu)
    meter = stats.CpuMeter(groups) if groups else None
    with room_for(bench.conn, most, bench.flavor) as result["quota"]:
        try:
            if args.idle:
                result["idle"] = bench.idle(args.idle, meter)
            result["single_boot"] = bench.single(args.single)
            result["scheduler"] = bench.scheduler(list(bench.created))
            result["concurrent_boot"] = bench.concurrent(args.concurrent, meter, args.rate)
            if sizes:
                result["list_detail"] = bench.listing(sizes)
        finally:
            if not args.keep:
                result["cleanup_s"] = bench.cleanup()
                if args.tiny_image:
                    bench.conn.image.delete_image(bench.image)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
