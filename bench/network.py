"""Network benchmark: create/delete latency and rate of networks, subnets and ports; 1,000
concurrent port creates on one /22 (zero duplicate addresses, zero errors expected); listing
10,000 ports; 100 boots with a port each. Against any OpenStack network endpoint
(openstacksdk for auth and discovery, then plain REST calls on keep-alive connections).

    python bench/network.py --cloud NAME [--single 200 --concurrent 1000 --workers 64
        --list-size 10000 --boots 100 --image IMG --flavor FLAVOR --phases crud,list,...
        --server-pid PID ...]

Prints one JSON object; with `--server-pid`, also the server's CPU milliseconds per port
create (sequential and concurrent), the figure to compare on a busy machine. Needs an admin (it raises its project's network quotas) or quotas
large enough; everything it makes is deleted at the end.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import http.client
import json
import socket
import ssl
import statistics
import sys
import threading
import time
import urllib.parse
import uuid
from typing import Any

import openstack
import stats


class Http:
    """HTTP/1.1 calls on one keep-alive connection per thread. http.client costs the client
    about a fifth of the CPU per call that keystoneauth or httpx do, which at hundreds of
    calls a second, on the server's machine, would otherwise be part of what is measured."""

    def __init__(self, endpoint: str, verify: bool | str) -> None:
        url = urllib.parse.urlsplit(endpoint)
        self.host, self.root, self.tls = url.netloc, url.path.rstrip("/"), url.scheme == "https"
        self.context = ssl.create_default_context(
            cafile=verify if isinstance(verify, str) else None
        )
        if verify is False:
            self.context.check_hostname, self.context.verify_mode = False, ssl.CERT_NONE
        self.local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        if self.tls:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self.host, timeout=300, context=self.context
            )
        else:
            conn = http.client.HTTPConnection(self.host, timeout=300)
        # http.client sends a body apart from its headers: without TCP_NODELAY (which
        # urllib3, and so every OpenStack client, sets) the body waits for the server's
        # delayed ACK, 40 ms a call.
        conn.connect()
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def request(
        self, method: str, path: str, body: Any, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        sent = {**headers, "Accept": "application/json", "Content-Type": "application/json"}
        while True:
            conn = getattr(self.local, "conn", None)
            reused = conn is not None
            conn = self.local.conn = conn or self._connection()
            try:
                conn.request(method, self.root + path, body=data, headers=sent)
                response = conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                self.local.conn = None
                if not reused:  # a kept connection the server closed: once more on a new one
                    raise


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.conn = openstack.connect(cloud=args.cloud)
        self.http = Http(self.conn.network.get_endpoint(), self.conn.session.verify)
        self.headers: dict[str, str] = self.conn.session.get_auth_headers() or {}
        self.prefix = f"bench-{uuid.uuid4().hex[:6]}"
        self.networks: list[str] = []

    def send(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        """One call with the session's token; a 401 (the token expired) fetches a new one."""
        status, data = self.http.request(method, path, body, self.headers)
        if status == 401:
            self.conn.session.invalidate()
            self.headers = self.conn.session.get_auth_headers() or {}
            status, data = self.http.request(method, path, body, self.headers)
        return status, data

    def call(self, method: str, path: str, body: Any = None, ok: int = 200) -> Any:
        status, data = self.send(method, path, body)
        if status != ok:
            raise RuntimeError(f"{method} {path}: {status} {data[:300].decode(errors='replace')}")
        return json.loads(data) if data else None

    def timed(self, method: str, path: str, body: Any = None, ok: int = 200) -> tuple[float, Any]:
        started = time.perf_counter()
        found = self.call(method, path, body, ok)
        return (time.perf_counter() - started) * 1000, found

    def quotas(self) -> None:
        project = self.conn.current_project_id
        unlimited = {k: -1 for k in ("network", "subnet", "port", "router", "security_group")}
        try:
            self.call("PUT", f"/quotas/{project}", {"quota": unlimited})
            if self.args.boots and "boot_with_port" in self.args.phases.split(","):
                self.conn.set_compute_quotas(project, instances=-1, cores=-1, ram=-1)
        except (RuntimeError, openstack.exceptions.SDKException) as exc:
            print(f"could not raise quotas: {exc}", file=sys.stderr)

    def network(self, cidr: str) -> tuple[str, str]:
        net = self.call("POST", "/networks", {"network": {"name": self.prefix}}, 201)["network"]
        self.networks.append(net["id"])
        body = {"subnet": {"network_id": net["id"], "ip_version": 4, "cidr": cidr}}
        sub = self.call("POST", "/subnets", body, 201)["subnet"]
        return net["id"], sub["id"]

    def crud(self) -> dict[str, Any]:
        n = self.args.single
        times: dict[str, list[float]] = {
            k: []
            for k in (
                "network_create",
                "network_delete",
                "subnet_create",
                "subnet_delete",
                "port_create",
                "port_delete",
            )
        }
        for i in range(max(1, n // 4)):
            ms, net = self.timed(
                "POST", "/networks", {"network": {"name": f"{self.prefix}-{i}"}}, 201
            )
            times["network_create"].append(ms)
            body = {
                "subnet": {
                    "network_id": net["network"]["id"],
                    "ip_version": 4,
                    "cidr": "10.200.0.0/24",
                }
            }
            ms, sub = self.timed("POST", "/subnets", body, 201)
            times["subnet_create"].append(ms)
            ms, _ = self.timed("DELETE", f"/subnets/{sub['subnet']['id']}", ok=204)
            times["subnet_delete"].append(ms)
            ms, _ = self.timed("DELETE", f"/networks/{net['network']['id']}", ok=204)
            times["network_delete"].append(ms)
        net_id, _ = self.network("10.201.0.0/22")
        ports = []
        cpu = stats.cpu_seconds(*self.args.server_pid)
        for _ in range(n):
            ms, port = self.timed("POST", "/ports", {"port": {"network_id": net_id}}, 201)
            times["port_create"].append(ms)
            ports.append(port["port"]["id"])
        cpu = stats.cpu_seconds(*self.args.server_pid) - cpu
        for port_id in ports:
            ms, _ = self.timed("DELETE", f"/ports/{port_id}", ok=204)
            times["port_delete"].append(ms)
        out: dict[str, Any] = {k: stats.summary(v) for k, v in times.items()}
        for key, values in times.items():
            out[key]["sequential_per_s"] = (
                round(1000 / statistics.fmean(values), 1) if values else 0
            )
        if self.args.server_pid and n:
            out["port_create"]["server_cpu_ms"] = round(cpu * 1000 / n, 2)
        return out

    def concurrent(self) -> dict[str, Any]:
        """N port creates at once on one /22: addresses all distinct, no errors."""
        net_id, _ = self.network("10.202.0.0/22")
        latencies: list[float] = []
        errors: list[str] = []

        def one(_i: int) -> str | None:
            try:
                ms, port = self.timed("POST", "/ports", {"port": {"network_id": net_id}}, 201)
            except RuntimeError as exc:
                errors.append(str(exc)[:200])
                return None
            latencies.append(ms)
            return str(port["port"]["fixed_ips"][0]["ip_address"])

        cpu, started = stats.cpu_seconds(*self.args.server_pid), time.perf_counter()
        with cf.ThreadPoolExecutor(self.args.workers) as pool:
            addresses = [a for a in pool.map(one, range(self.args.concurrent)) if a]
        elapsed = time.perf_counter() - started
        cpu = stats.cpu_seconds(*self.args.server_pid) - cpu
        return {
            "ports": self.args.concurrent,
            "workers": self.args.workers,
            "seconds": round(elapsed, 2),
            "creates_per_s": round(len(addresses) / elapsed, 1),
            "duplicates": len(addresses) - len(set(addresses)),
            "errors": len(errors),
            "first_errors": errors[:3],
            "latency": stats.summary(latencies),
            "server_cpu_ms_per_create": (
                round(cpu * 1000 / len(addresses), 2)
                if self.args.server_pid and addresses
                else None
            ),
        }

    def listing(self) -> dict[str, Any]:
        net_id, _ = self.network("10.203.0.0/18")
        have = 0
        while have < self.args.list_size:
            batch = min(200, self.args.list_size - have)
            body = {"ports": [{"network_id": net_id} for _ in range(batch)]}
            self.call("POST", "/ports", body, 201)
            have += batch
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            found = self.call("GET", f"/ports?network_id={net_id}")["ports"]
            runs.append((time.perf_counter() - started) * 1000)
            assert len(found) == self.args.list_size, len(found)
        return {"ports": self.args.list_size, "list_ms": stats.summary(runs)}

    def boots(self) -> dict[str, Any]:
        if not self.args.boots:
            return {}
        compute = self.conn.compute
        image = self.conn.image.find_image(self.args.image, ignore_missing=False)
        flavor = compute.find_flavor(self.args.flavor, ignore_missing=False)
        net_id, _ = self.network("10.204.0.0/24")
        ports = [
            self.call("POST", "/ports", {"port": {"network_id": net_id}}, 201)["port"]["id"]
            for _ in range(self.args.boots)
        ]
        started = time.perf_counter()
        servers = [
            compute.create_server(
                name=f"{self.prefix}-{i}",
                image_id=image.id,
                flavor_id=flavor.id,
                networks=[{"port": p}],
            )
            for i, p in enumerate(ports)
        ]
        pending = {s.id for s in servers}
        failed = 0
        while pending and time.perf_counter() - started < 600:
            for server in list(compute.servers(name=self.prefix)):
                if server.id in pending and server.status in ("ACTIVE", "ERROR"):
                    pending.discard(server.id)
                    failed += server.status == "ERROR"
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        active = sum(
            1 for p in ports if self.call("GET", f"/ports/{p}")["port"]["status"] == "ACTIVE"
        )
        for server in servers:
            compute.delete_server(server)
        deadline = time.perf_counter() + 300
        while list(compute.servers(name=self.prefix)) and time.perf_counter() < deadline:
            time.sleep(0.5)
        for port_id in ports:
            self.send("DELETE", f"/ports/{port_id}")
        return {
            "servers": len(servers),
            "seconds_to_all_active": round(elapsed, 2),
            "errors": failed,
            "ports_active": active,
        }

    def cleanup(self) -> None:
        for net_id in self.networks:
            for port in self.call(
                "GET", f"/ports?network_id={net_id}&fields=id&fields=device_owner"
            )["ports"]:
                self.send("DELETE", f"/ports/{port['id']}")
            self.send("DELETE", f"/networks/{net_id}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud", required=True)
    parser.add_argument("--single", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--list-size", type=int, default=10000)
    parser.add_argument("--boots", type=int, default=100)
    parser.add_argument("--image", default="overcast-guest")
    parser.add_argument("--flavor", default="m1.tiny")
    parser.add_argument("--phases", default="crud,concurrent_ports,list,boot_with_port")
    parser.add_argument("--server-pid", type=int, nargs="*", default=[], help="its processes")
    args = parser.parse_args()
    bench = Bench(args)
    bench.quotas()
    result: dict[str, Any] = {"cloud": args.cloud}
    phases = (
        ("crud", bench.crud),
        ("concurrent_ports", bench.concurrent),
        ("list", bench.listing),
        ("boot_with_port", bench.boots),
    )
    try:
        for name, phase in phases:
            if name not in args.phases.split(","):
                continue
            result[name] = phase()
            print(json.dumps({name: result[name]}), file=sys.stderr, flush=True)  # progress
    finally:
        bench.cleanup()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
