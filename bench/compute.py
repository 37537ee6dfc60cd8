"""Compute benchmark: boot latency and throughput, list latency, scheduler decision time,
against any OpenStack compute endpoint (openstacksdk for auth and discovery, plain REST calls).

    python bench/compute.py --cloud NAME [--image IMG --flavor FLAVOR --network none]
        [--single 20 --concurrent 200 --list-sizes 1000,10000 --keep]

Phases:
- single: boot one server at a time; create -> ACTIVE latency (polled every 5 ms); p50/p99.
- concurrent: N boots at once; time until all are ACTIVE; per-server p50/p99; then delete all.
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

    def concurrent(self, count: int) -> dict[str, Any]:
        started = time.perf_counter()
        begun: dict[str, float] = {}

        def one(i: int) -> None:
            t0 = time.perf_counter()
            sid = self._post(self._body(f"{self.prefix}-c{i}"))["server"]["id"]
            begun[sid] = t0

        with cf.ThreadPoolExecutor(max_workers=min(count, 50)) as pool:
            list(pool.map(one, range(count)))
        posted = time.perf_counter()
        done: dict[str, float] = {}
        errors = 0
        deadline = time.perf_counter() + 300
        while len(done) + errors < count and time.perf_counter() < deadline:
            for s in self._list(f"^{self.prefix}-c"):
                if s["id"] in begun and s["id"] not in done and s["status"] in ("ACTIVE", "ERROR"):
                    if s["status"] == "ERROR":
                        errors += 1
                    done[s["id"]] = time.perf_counter()
            time.sleep(0.2)  # a cheap poll: listing hundreds of servers costs the cloud too
        total = time.perf_counter() - started
        ids = list(begun)
        self.created.extend(ids)
        deleted = self._delete(ids)
        latencies = [(done[s] - begun[s]) * 1000 for s in done]
        return {
            **stats.summary(latencies),
            "all_active_s": round(total, 3),
            "errors": errors,
            "requests_s": round(posted - started, 3),
            "delete_all_s": deleted,
        }

    def _list(self, name: str | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 1000}
        if name:
            params["name"] = name
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
    parser.add_argument("--flavor", default="m1.tiny")
    parser.add_argument("--network", default="none", help="'none', 'auto' (needs 2.37)")
    parser.add_argument("--single", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--list-sizes", default="1000,10000")
    parser.add_argument("--keep", action="store_true", help="leave the servers behind")
    args = parser.parse_args(argv)
    bench = Bench(args)
    result: dict[str, Any] = {"cloud": args.cloud, "microversion": MICROVERSION}
    sizes = [int(s) for s in args.list_sizes.split(",") if s]
    most = max([args.single + args.concurrent, *sizes])
    with room_for(bench.conn, most, bench.flavor) as result["quota"]:
        try:
            result["single_boot"] = bench.single(args.single)
            result["scheduler"] = bench.scheduler(list(bench.created))
            result["concurrent_boot"] = bench.concurrent(args.concurrent)
            if sizes:
                result["list_detail"] = bench.listing(sizes)
        finally:
            if not args.keep:
                result["cleanup_s"] = bench.cleanup()
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
