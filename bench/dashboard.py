"""Dashboard benchmark: time to first byte and to the whole rendered page, and the number of
API calls each page made (the dashboard's `X-Dashboard-Api-Calls`; a batch answered in memory
is one) with the REST requests inside them (`X-Dashboard-Api-Requests`), for the instance list
with 10, 1,000 (and more) instances, the launch form, the overview, an instance's page, the
other list pages, the topology with 100 networks; and how long after a boot's step ends it
reaches the page's live timeline.

    python bench/dashboard.py --cloud NAME [--url http://host:port/dashboard] [--runs 7]
        [--sizes 10,1000,5000] [--networks 100] [--timeline-boots 5]

Logs in to the dashboard with the cloud's password credentials; makes its instances with one
multi-create request each (meant for the fake compute driver) and its networks with
openstacksdk. Needs an admin (it lifts its project's compute and network quotas). Prints one
JSON object; everything it made is deleted at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
import urllib.parse
import uuid
from typing import Any

import httpx
import openstack
import stats

BATCH = 500
# The other list pages, timed as they are (the cloud's own resources).
LISTS = ("images", "volumes", "networks", "security-groups", "keypairs", "containers")


class Dashboard:
    """A signed-in browser without script: cookies, the CSRF token, timed GETs."""

    def __init__(self, url: str, auth: dict[str, Any]) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=120)
        page = self.http.get(self.url + "/auth/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        if token is None:
            raise SystemExit(f"no login form at {self.url}/auth/login")
        answer = self.http.post(
            self.url + "/auth/login",
            data={
                "csrf": token.group(1),
                "domain": auth.get("user_domain_name") or auth.get("user_domain_id") or "Default",
                "username": auth["username"],
                "password": auth["password"],
            },
        )
        if answer.status_code != 303:
            raise SystemExit(f"login refused: {answer.status_code}")

    def timed(self, path: str) -> tuple[float, float, int, int, int]:
        """(ms to the first byte, ms to the whole page, API calls, REST requests, bytes)."""
        started = time.perf_counter()
        with self.http.stream("GET", self.url + path) as response:
            first = time.perf_counter()
            body = response.read()
        done = time.perf_counter()
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code}")
        calls = int(response.headers.get("x-dashboard-api-calls", "-1"))
        requests = int(response.headers.get("x-dashboard-api-requests", "-1"))
        return (first - started) * 1000, (done - started) * 1000, calls, requests, len(body)

    def measure(self, path: str, runs: int) -> dict[str, Any]:
        self.timed(path)  # warm: connections, caches
        found = [self.timed(path) for _ in range(runs)]
        return {
            "path": path,
            "ttfb": stats.summary([f[0] for f in found]),
            "rendered": stats.summary([f[1] for f in found]),
            "api_calls": found[-1][2],
            "api_requests": found[-1][3],
            "bytes": found[-1][4],
        }


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.conn = openstack.connect(cloud=args.cloud)
        self.prefix = f"bench-dash-{uuid.uuid4().hex[:6]}"
        auth = self.conn.config.config["auth"]
        url = args.url or _dashboard_url(auth["auth_url"])
        self.web = Dashboard(url, auth)
        self.servers = 0
        self.networks: list[str] = []

    def lift_quotas(self) -> None:
        project = self.conn.current_project_id
        try:
            self.conn.set_compute_quotas(project, instances=-1, cores=-1, ram=-1)
            self.conn.network.update_quota(project, networks=-1, ports=-1, subnets=-1)
        except openstack.exceptions.SDKException as exc:
            print(f"could not lift quotas: {exc}", file=sys.stderr)

    def grow_to(self, count: int) -> None:
        """Make the project hold `count` bench instances (multi-creates of BATCH), all ACTIVE."""
        flavor = self.conn.compute.find_flavor(self.args.flavor, ignore_missing=False)
        image = self.conn.image.find_image(self.args.image, ignore_missing=False)
        while self.servers < count:
            # Batches of at most BATCH: one scheduling call for thousands could time out.
            batch = min(BATCH, count - self.servers)
            body = {
                "server": {
                    "name": self.prefix,
                    "flavorRef": flavor.id,
                    "imageRef": image.id,
                    "networks": "none",
                    "min_count": batch,
                    "max_count": batch,
                }
            }
            response = self.conn.compute.post("/servers", json=body, microversion="2.37")
            if response.status_code != 202:
                raise RuntimeError(f"create: {response.status_code} {response.text[:300]}")
            self.servers += batch
            self._wait_active(self.servers)

    def _wait_active(self, count: int) -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            active = sum(1 for s in self.conn.compute.servers(name=self.prefix, status="ACTIVE"))
            if active >= count:
                return
            time.sleep(2)
        raise RuntimeError(f"only some of {count} instances became ACTIVE")

    def api_baseline(self, limit: int, runs: int) -> dict[str, Any]:
        """The same servers/detail call made straight to the compute API, for comparison."""
        path = f"/servers/detail?limit={limit}&name={self.prefix}"
        times = []
        for _ in range(runs + 1):
            started = time.perf_counter()
            response = self.conn.compute.get(path, microversion="2.96")
            response.json()
            times.append((time.perf_counter() - started) * 1000)
        return stats.summary(times[1:])

    def timeline_delay(self, boots: int) -> dict[str, Any]:
        """Boot `boots` instances one by one, each watched through the dashboard's live
        timeline (its event stream): how long after a step ended it reached the page."""
        flavor = self.conn.compute.find_flavor(self.args.flavor, ignore_missing=False)
        image = self.conn.image.find_image(self.args.image, ignore_missing=False)
        delays: list[float] = []
        for _ in range(boots):
            server = self.conn.compute.create_server(
                name=self.prefix + "-tl", flavor_id=flavor.id, image_id=image.id, networks="none"
            )
            path = f"/project/instances/{server.id}/trace/stream"
            connected = float("inf")  # steps that ended before the stream was live are replayed
            with self.web.http.stream("GET", self.web.url + path, timeout=120) as response:
                for line in response.iter_lines():
                    connected = min(connected, time.time())
                    if line.startswith("event: end"):
                        break
                    if not line.startswith("data: "):
                        continue
                    span = json.loads(line[6:])
                    if span.get("phase") != "end" or span.get("duration_ms") is None:
                        continue
                    ended = _epoch(span["start"]) + span["duration_ms"] / 1000
                    if ended >= connected:
                        delays.append((time.time() - ended) * 1000)
        return stats.summary(delays)

    def add_networks(self, count: int) -> None:
        for _ in range(count - len(self.networks)):
            self.networks.append(self.conn.network.create_network(name=self.prefix).id)

    def cleanup(self) -> None:
        for server in list(self.conn.compute.servers(name=self.prefix)):
            self.conn.compute.delete_server(server.id, ignore_missing=True)
        for network in self.networks:
            self.conn.network.delete_network(network, ignore_missing=True)

    def run(self) -> dict[str, Any]:
        runs = self.args.runs
        self.lift_quotas()
        pages: dict[str, Any] = {}
        for size in sorted(int(s) for s in self.args.sizes.split(",")):
            self.grow_to(size)
            limit = 1000 if size >= 1000 else 50
            pages[f"instances_{size}"] = self.web.measure(
                f"/project/instances?limit={limit}&name={self.prefix}", runs
            )
            pages[f"instances_{size}"]["compute_api_alone"] = self.api_baseline(limit, runs)
            if size == 10:
                pages["launch_form"] = self.web.measure("/project/launch", runs)
                pages["overview"] = self.web.measure("/project/", runs)
                one = next(iter(self.conn.compute.servers(name=self.prefix)))
                pages["instance_page"] = self.web.measure(f"/project/instances/{one.id}", runs)
                for name in LISTS:
                    pages[name.replace("-", "_")] = self.web.measure(f"/project/{name}", runs)
        if self.args.timeline_boots:
            pages["timeline_step_to_page"] = self.timeline_delay(self.args.timeline_boots)
        self.add_networks(self.args.networks)
        pages[f"topology_{self.args.networks}_networks"] = self.web.measure(
            "/project/topology", runs
        )
        return {"dashboard": self.web.url, "runs": runs, "pages": pages}


def _epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _dashboard_url(auth_url: str) -> str:
    parts = urllib.parse.urlsplit(auth_url)
    return f"{parts.scheme}://{parts.netloc}/dashboard"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud", required=True)
    parser.add_argument("--url", help="the dashboard (default: /dashboard at the auth URL's host)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", default="10,1000")
    parser.add_argument("--networks", type=int, default=100)
    parser.add_argument("--timeline-boots", type=int, default=5)
    parser.add_argument("--image", default="overcast-guest")
    parser.add_argument("--flavor", default="m1.tiny")
    args = parser.parse_args()
    bench = Bench(args)
    try:
        print(json.dumps(bench.run(), indent=2), flush=True)
    finally:
        bench.cleanup()


if __name__ == "__main__":
    main()
