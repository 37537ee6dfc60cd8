"""Block storage benchmark against any OpenStack endpoint (openstacksdk for auth and discovery,
plain REST calls for the measured requests).

    python bench/volume.py --cloud NAME [--single 20 --concurrent 100 --attach 10 --extend 5
        --image IMG --flavor FLAVOR --data-gib 1 --skip-data]

Phases:
- single: create one 1 GiB volume at a time; create -> available latency (polled every 5 ms).
- concurrent: N creates at once; time until all are available, errors, per-volume p50/p99.
- attach: boot one server (networks none), then attach and detach a volume N times through
  compute's os-volume_attachments; each call -> volume in-use (or available) latency; then
  attach it once more and grow it --extend times while attached (os-extend -> in-use).
- data: a volume full of random data (from a raw image of --data-gib GiB), then snapshot,
  full backup and restore into a new volume, each timed to available and given in MB/s.
Prints one JSON object and deletes what it made. Needs quota for ~150 volumes (an admin
sets it: `openstack quota set --volumes 200 --gigabytes 2000 --snapshots 20 PROJECT`).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

import openstack
import stats

VOLUME_VERSION = "3.44"
COMPUTE_VERSION = "2.47"


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.conn = openstack.connect(cloud=args.cloud)
        self.bs = self.conn.block_storage
        self.prefix = f"bench-{uuid.uuid4().hex[:6]}"
        self.volumes: list[str] = []

    # -- REST helpers --------------------------------------------------------------------

    def _req(self, method: str, path: str, body: Any = None) -> Any:
        response = self.bs.request(
            path, method, json=body, microversion=VOLUME_VERSION, raise_exc=False
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else {}

    def create(self, size: int = 1, **fields: Any) -> str:
        body = {"volume": {"size": size, "name": f"{self.prefix}-{len(self.volumes)}", **fields}}
        volume_id = str(self._req("POST", "/volumes", body)["volume"]["id"])
        self.volumes.append(volume_id)
        return volume_id

    def status(self, kind: str, resource_id: str) -> str:
        key = kind[:-1]
        return str(self._req("GET", f"/{kind}/{resource_id}")[key]["status"])

    def wait(self, kind: str, resource_id: str, want: str, timeout: float = 600.0) -> float:
        """Seconds until the resource shows `want` (polled every 5 ms); error states raise."""
        start = time.perf_counter()
        while True:
            status = self.status(kind, resource_id)
            if status == want:
                return time.perf_counter() - start
            if status.startswith("error") or time.perf_counter() - start > timeout:
                raise RuntimeError(f"{kind} {resource_id} is {status}")
            time.sleep(0.005)

    # -- phases --------------------------------------------------------------------------

    def single(self) -> dict[str, Any]:
        times = []
        for _ in range(self.args.single):
            start = time.perf_counter()
            volume_id = self.create()
            self.wait("volumes", volume_id, "available")
            times.append((time.perf_counter() - start) * 1000)
        return stats.summary(times)

    def concurrent(self) -> dict[str, Any]:
        """N creates at once; one poller lists the batch (as a dashboard would) rather than
        N pollers hammering the API."""
        n = self.args.concurrent
        tag = f"{self.prefix}-c"
        errors: list[str] = []
        started: dict[str, float] = {}

        def one(i: int) -> None:
            begin = time.perf_counter()
            body = {"volume": {"size": 1, "name": f"{tag}{i}"}}
            volume_id = str(self._req("POST", "/volumes", body)["volume"]["id"])
            started[volume_id] = begin

        start = time.perf_counter()
        with cf.ThreadPoolExecutor(n) as pool:
            for future in cf.as_completed([pool.submit(one, i) for i in range(n)]):
                try:
                    future.result()
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    errors.append(str(exc)[:200])
        self.volumes.extend(started)
        done: dict[str, float] = {}
        deadline = time.perf_counter() + 600
        while len(done) + len(errors) < n and time.perf_counter() < deadline:
            listed = self._req("GET", f"/volumes/detail?name~={tag}&limit=1000")["volumes"]
            now = time.perf_counter()
            for volume in listed:
                if volume["id"] in done or volume["id"] not in started:
                    continue
                if volume["status"] == "available":
                    done[volume["id"]] = (now - started[volume["id"]]) * 1000
                elif volume["status"].startswith("error"):
                    errors.append(f"{volume['id']} {volume['status']}")
                    done[volume["id"]] = float("nan")
            time.sleep(0.02)
        total = time.perf_counter() - start
        times = [t for t in done.values() if t == t]
        return {
            "volumes": n,
            "total_s": round(total, 2),
            "errors": len(errors),
            "first_errors": errors[:3],
            **stats.summary(times),
        }

    def attach(self) -> dict[str, Any]:
        compute = self.conn.compute
        image = self.conn.image.find_image(self.args.image, ignore_missing=False)
        flavor = compute.find_flavor(self.args.flavor, ignore_missing=False)
        server = compute.create_server(
            name=f"{self.prefix}-vm", image_id=image.id, flavor_id=flavor.id, networks="none"
        )
        compute.wait_for_server(server, interval=0.05, wait=300)
        volume_id = self.create()
        self.wait("volumes", volume_id, "available")
        attach_ms, detach_ms = [], []
        try:
            for _ in range(self.args.attach):
                start = time.perf_counter()
                self.attach_one(server.id, volume_id)
                attach_ms.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                response = compute.delete(
                    f"/servers/{server.id}/os-volume_attachments/{volume_id}",
                    microversion=COMPUTE_VERSION,
                )
                if response.status_code >= 400:
                    raise RuntimeError(f"detach: {response.status_code} {response.text[:300]}")
                self.wait("volumes", volume_id, "available")
                detach_ms.append((time.perf_counter() - start) * 1000)
            extend_ms = self.extend_attached(server.id, volume_id) if self.args.extend else []
        finally:
            compute.delete_server(server)
            compute.wait_for_delete(server, interval=0.05, wait=300)
        found = {"attach": stats.summary(attach_ms), "detach": stats.summary(detach_ms)}
        return {**found, "extend_attached": stats.summary(extend_ms)} if extend_ms else found

    def attach_one(self, server_id: str, volume_id: str) -> None:
        """Attach through compute's os-volume_attachments; back once the volume is in use."""
        response = self.conn.compute.post(
            f"/servers/{server_id}/os-volume_attachments",
            json={"volumeAttachment": {"volumeId": volume_id}},
            microversion=COMPUTE_VERSION,
        )
        if response.status_code >= 400:
            raise RuntimeError(f"attach: {response.status_code} {response.text[:300]}")
        self.wait("volumes", volume_id, "in-use")

    def extend_attached(self, server_id: str, volume_id: str) -> list[float]:
        """Attach once, then grow the volume by 1 GiB N times (3.42: while attached); each
        os-extend -> in-use at the new size latency (ms)."""
        self.attach_one(server_id, volume_id)
        times = []
        for size in range(2, self.args.extend + 2):
            start = time.perf_counter()
            self._req("POST", f"/volumes/{volume_id}/action", {"os-extend": {"new_size": size}})
            self.wait("volumes", volume_id, "in-use")
            times.append((time.perf_counter() - start) * 1000)
        return times

    def data(self) -> dict[str, Any]:
        gib = self.args.data_gib
        nbytes = gib << 30
        with tempfile.NamedTemporaryFile(dir=self.args.tmp, suffix=".raw") as handle:
            block = os.urandom(4 << 20)
            for i in range(nbytes // len(block)):
                handle.write(block[:16] + i.to_bytes(8, "big") + block[24:])
            handle.flush()
            image = self.conn.image.create_image(
                name=f"{self.prefix}-data",
                filename=handle.name,
                disk_format="raw",
                container_format="bare",
                wait=True,
                allow_duplicates=True,
            )
        mb = nbytes / 1e6
        out: dict[str, Any] = {"gib": gib}
        try:
            start = time.perf_counter()
            volume_id = self.create(size=gib, imageRef=image.id)
            self.wait("volumes", volume_id, "available")
            out["from_image_mb_s"] = round(mb / (time.perf_counter() - start), 1)
            timed: dict[str, Callable[[], tuple[str, str]]] = {
                "snapshot": lambda: (
                    "snapshots",
                    self._req(
                        "POST",
                        "/snapshots",
                        {"snapshot": {"volume_id": volume_id, "name": f"{self.prefix}-s"}},
                    )["snapshot"]["id"],
                ),
                "backup": lambda: (
                    "backups",
                    self._req(
                        "POST",
                        "/backups",
                        {"backup": {"volume_id": volume_id, "name": f"{self.prefix}-b"}},
                    )["backup"]["id"],
                ),
            }
            made: dict[str, tuple[str, str]] = {}
            for name, start_it in timed.items():
                start = time.perf_counter()
                made[name] = start_it()
                self.wait(made[name][0], made[name][1], "available")
                out[f"{name}_mb_s"] = round(mb / (time.perf_counter() - start), 1)
            start = time.perf_counter()
            restored = self._req(
                "POST",
                f"/backups/{made['backup'][1]}/restore",
                {"restore": {"name": f"{self.prefix}-r"}},
            )["restore"]["volume_id"]
            self.volumes.append(restored)
            self.wait("volumes", restored, "available")
            out["restore_mb_s"] = round(mb / (time.perf_counter() - start), 1)
            for kind, resource_id in made.values():
                self._req("DELETE", f"/{kind}/{resource_id}")
                self._gone(kind, resource_id)
        finally:
            self.conn.image.delete_image(image)
        return out

    def _gone(self, kind: str, resource_id: str) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            response = self.bs.request(
                f"/{kind}/{resource_id}", "GET", raise_exc=False, microversion=VOLUME_VERSION
            )
            if response.status_code == 404:
                return
            time.sleep(0.05)

    def cleanup(self) -> None:
        for volume_id in self.volumes:
            self.bs.request(
                f"/volumes/{volume_id}", "DELETE", raise_exc=False, microversion=VOLUME_VERSION
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cloud", required=True)
    parser.add_argument("--single", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=100)
    parser.add_argument("--attach", type=int, default=10)
    parser.add_argument("--extend", type=int, default=5, help="extends of an attached volume")
    parser.add_argument("--image", default="cirros")
    parser.add_argument("--flavor", default="m1.tiny")
    parser.add_argument("--data-gib", type=int, default=1)
    parser.add_argument("--tmp", default=None, help="where the data image is written first")
    parser.add_argument("--skip-data", action="store_true")
    parser.add_argument("--skip-attach", action="store_true")
    args = parser.parse_args()
    bench = Bench(args)
    result: dict[str, Any] = {"cloud": args.cloud}
    try:
        result["create_single"] = bench.single()
        if args.concurrent:
            result["create_concurrent"] = bench.concurrent()
        bench.cleanup()
        bench.volumes.clear()
        if not args.skip_attach:
            result["attach_detach"] = bench.attach()
        if not args.skip_data:
            result["data"] = bench.data()
    finally:
        bench.cleanup()
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
