"""Identity benchmark: token issue and validation rates against any Keystone v3 endpoint.

    python bench/identity.py --auth-url URL --username U --password P --project P \\
        [--user-domain Default --project-domain Default --concurrency N --duration S]

Phases: issue (POST /v3/auth/tokens), validate (GET /v3/auth/tokens with X-Subject-Token,
authenticated with the admin token) and a revocation check (revoke a warmed token, then
validate it N times and count acceptances). Prints one JSON object. Only standard Keystone v3
calls are made; the server's settings (e.g. its bcrypt cost) are never touched.

`--client wrk` validates with wrk (a C load generator, Debian's `wrk`) instead of Python
clients: a Python client spends about as much CPU on a request as the server does, so on a
machine of few cores it takes the cores a second API worker would use; wrk needs a few
microseconds a request.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import stats


def _body(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": args.username,
                        "domain": {"name": args.user_domain},
                        "password": args.password,
                    }
                },
            },
            "scope": {"project": {"name": args.project, "domain": {"name": args.project_domain}}},
        }
    }


def _v3(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/v3") else url + "/v3"


async def _load(job: dict[str, Any]) -> dict[str, Any]:
    """One process's share: `clients` loops hammering one phase until the deadline."""
    url = _v3(job["auth_url"]) + "/auth/tokens"
    latencies: list[float] = []
    errors = 0
    subjects = itertools.cycle(job["subjects"] or [""])
    limits = httpx.Limits(max_connections=job["clients"], max_keepalive_connections=job["clients"])
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        deadline = time.perf_counter() + job["duration"]

        async def one_client() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    if job["phase"] == "issue":
                        r = await client.post(url + "?nocatalog", json=job["body"])
                        ok = r.status_code == 201
                    else:
                        headers = {"X-Auth-Token": job["admin"], "X-Subject-Token": next(subjects)}
                        r = await client.get(url + job["query"], headers=headers)
                        ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(job["clients"])))
        elapsed = time.perf_counter() - began
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed}


def _run_share(job: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(_load(job))


def _phase(args: argparse.Namespace, phase: str, **job: Any) -> dict[str, Any]:
    processes = max(1, min(args.processes, args.concurrency))
    shares = [
        args.concurrency // processes + (i < args.concurrency % processes) for i in range(processes)
    ]
    jobs = [
        {
            "phase": phase,
            "auth_url": args.auth_url,
            "duration": args.duration,
            "clients": n,
            "query": "?nocatalog" if args.nocatalog else "",
            **job,
        }
        for n in shares
    ]
    cpu_before = stats.cpu_seconds(args.server_pid)
    if processes == 1:
        results = [_run_share(jobs[0])]
    else:
        with multiprocessing.Pool(processes) as pool:
            results = pool.map(_run_share, jobs)
    cpu_after = stats.cpu_seconds(args.server_pid)
    latencies = sorted(x for r in results for x in r["latencies"])
    elapsed = max(r["elapsed"] for r in results)
    out: dict[str, Any] = {
        "requests": len(latencies),
        "errors": sum(r["errors"] for r in results),
        "seconds": round(elapsed, 2),
        "rps": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
    }
    if args.server_pid and latencies:
        # What one request costs the server, whatever else the machine is doing: the rate a
        # free core could sustain is 1e6 / server_cpu_us_per_request.
        out["server_cpu_us_per_request"] = round((cpu_after - cpu_before) / len(latencies) * 1e6)
    if latencies:
        out["p50_ms"] = round(statistics.median(latencies) * 1000, 2)
        out["p99_ms"] = round(
            latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2
        )
    return out


# wrk's script: the validation request with the subjects in turn, and a JSON summary at the end.
_WRK_SCRIPT = """
local subjects = {%(subjects)s}
local admin = "%(admin)s"
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "%(path)s", {["X-Auth-Token"] = admin,
    ["X-Subject-Token"] = subjects[counter %% #subjects + 1]})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "errors": %%d, "us": %%d, "p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests, e.status + e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _wrk_validate(args: argparse.Namespace, admin: str, subjects: list[str]) -> dict[str, Any]:
    """The validate phase driven by wrk, one thread, `--concurrency` connections."""
    url = _v3(args.auth_url) + "/auth/tokens" + ("?nocatalog" if args.nocatalog else "")
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    script = _WRK_SCRIPT % {
        "subjects": ", ".join(f'"{s}"' for s in subjects),
        "admin": admin,
        "path": path,
    }
    with tempfile.TemporaryDirectory() as tmp:
        lua = Path(tmp) / "validate.lua"
        lua.write_text(script)
        cpu_before = stats.tree_cpu_seconds(args.server_pid)
        run = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{args.concurrency}",
                f"-d{max(1, round(args.duration))}s",
                "-s",
                str(lua),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        cpu_after = stats.tree_cpu_seconds(args.server_pid)
    found = json.loads(run.stdout.strip().splitlines()[-1])
    ok = found["requests"] - found["errors"]
    seconds = found["us"] / 1e6
    out: dict[str, Any] = {
        "client": "wrk",
        "requests": ok,
        "errors": found["errors"],
        "seconds": round(seconds, 2),
        "rps": round(ok / seconds, 1) if seconds else 0.0,
        "p50_ms": round(found["p50_us"] / 1000, 2),
        "p99_ms": round(found["p99_us"] / 1000, 2),
    }
    if args.server_pid and ok:
        out["server_cpu_us_per_request"] = round((cpu_after - cpu_before) / ok * 1e6)
    return out


async def _revocation_check(args: argparse.Namespace, admin: str) -> dict[str, Any]:
    """Revoke a token every cache has seen, then count how often it is still accepted."""
    base = _v3(args.auth_url)
    async with httpx.AsyncClient(timeout=60) as client:
        r = await client.post(base + "/auth/tokens?nocatalog", json=_body(args))
        victim = r.headers["X-Subject-Token"]
        as_subject = {"X-Auth-Token": admin, "X-Subject-Token": victim}
        for _ in range(3):  # warm every cache on the way
            await client.get(base + "/auth/tokens?nocatalog", headers=as_subject)
            await client.get(base + "/auth/projects", headers={"X-Auth-Token": victim})
        revoked = await client.delete(base + "/auth/tokens", headers=as_subject)
        sem = asyncio.Semaphore(args.concurrency)

        async def check(headers: dict[str, str], path: str) -> bool:
            async with sem:
                return (await client.get(base + path, headers=headers)).status_code == 200

        subject = await asyncio.gather(
            *(check(as_subject, "/auth/tokens?nocatalog") for _ in range(args.revoke_checks))
        )
        own = await asyncio.gather(
            *(check({"X-Auth-Token": victim}, "/auth/projects") for _ in range(args.revoke_checks))
        )
    return {
        "revoke_status": revoked.status_code,
        "checks": 2 * args.revoke_checks,
        "accepted_as_subject": sum(subject),
        "accepted_as_auth_token": sum(own),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--auth-url", required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--user-domain", default="Default")
    parser.add_argument("--project-domain", default="Default")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--processes", type=int, default=1, help="client processes")
    parser.add_argument("--subjects", type=int, default=20, help="distinct tokens validated")
    parser.add_argument(
        "--nocatalog", action="store_true", help="validate without the catalog (default: with)"
    )
    parser.add_argument("--revoke-checks", type=int, default=200)
    parser.add_argument(
        "--server-pid", type=int, help="a local server's pid: report its CPU per request"
    )
    parser.add_argument("--skip-issue", action="store_true", help="only validate and revoke")
    parser.add_argument(
        "--client",
        choices=("python", "wrk"),
        default="python",
        help="what validates: Python clients (--processes) or wrk (one thread)",
    )
    args = parser.parse_args(argv)

    r = httpx.post(_v3(args.auth_url) + "/auth/tokens?nocatalog", json=_body(args), timeout=60)
    if r.status_code != 201:
        print(f"authentication failed: {r.status_code} {r.text}", file=sys.stderr)
        return 1
    admin = r.headers["X-Subject-Token"]
    result: dict[str, Any] = {
        "auth_url": args.auth_url,
        "concurrency": args.concurrency,
        "processes": args.processes,
        "duration": args.duration,
        "validate_with_catalog": not args.nocatalog,
    }
    if not args.skip_issue:
        result["issue"] = _phase(args, "issue", body=_body(args), subjects=[], admin=admin)
    subjects = [
        httpx.post(
            _v3(args.auth_url) + "/auth/tokens?nocatalog", json=_body(args), timeout=60
        ).headers["X-Subject-Token"]
        for _ in range(args.subjects)
    ]
    if args.client == "wrk":
        result["validate"] = _wrk_validate(args, admin, subjects)
    else:
        result["validate"] = _phase(args, "validate", subjects=subjects, admin=admin, body=None)
    result["revocation"] = asyncio.run(_revocation_check(args, admin))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
