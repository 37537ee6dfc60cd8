"""The `make conformance` driver: a fresh cloud on a free port and a temporary data dir,
`tempest.conf` from what it advertises, `tempest.api` run service by service (the services in
its catalog, or those named), and the table of results. Tempest runs from its own venv.

    python -m conformance.run --tempest .conformance/venv [--service compute] [--regex R]
                              [--driver qemu]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import yaml

from conformance import discover, report, tempest_conf
from tests.helpers.server import Server, free_port

# Two fake compute hosts, so that Tempest's migration tests have somewhere to move to.
CLOUD_ENV = {"OVERCAST_COMPUTE__FAKE_HOSTS": "2"}
# Real guests (`--driver qemu`, for the tests that need one, such as noVNC's): the guest
# image, built once where the test suite keeps it, is Tempest's image.
GUEST_DIR = Path(os.environ.get("OVERCAST_TEST_GUEST_DIR", "/var/tmp/overcast-test-guest"))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tempest", type=Path, default=Path(".conformance/venv"))
    parser.add_argument("--service", action="append", help="identity, image, compute, ...")
    parser.add_argument("--regex", default="", help="narrow the tests further")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--driver", choices=("fake", "qemu"), default="fake", help="the compute driver"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args()


def _run_service(bin_dir: Path, work: Path, package: str, args: argparse.Namespace) -> str:
    regex = rf"^tempest\.api\.{package}\." + (f".*{args.regex}" if args.regex else "")
    env = {**os.environ, "TEMPEST_CONFIG_DIR": str(work / "etc")}
    env.pop("OS_CLIENT_CONFIG_FILE", None)
    with (work / f"{package}.log").open("w") as log:
        subprocess.run(
            [
                str(bin_dir / "tempest"),
                "run",
                "--config-file",
                str(work / "etc" / "tempest.conf"),
                "--regex",
                regex,
                "--concurrency",
                str(args.concurrency),
            ],
            cwd=work,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    stream = subprocess.run(
        [str(bin_dir / "stestr"), "last", "--subunit"], cwd=work, capture_output=True, check=False
    ).stdout
    return subprocess.run(
        [str(bin_dir / "subunit2csv")], input=stream, capture_output=True, check=False
    ).stdout.decode(errors="replace")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def _serve(root: Path) -> http.server.ThreadingHTTPServer:
    """An HTTP server on loopback for `root`'s files: the image web-download and import tasks
    fetch (Tempest's `http_image`), so that no test needs the internet."""
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def _sync_realm(port: int) -> dict[str, object]:
    """A container sync realm whose one cluster is the cloud itself, named as DevStack names
    the one it configures for Swift (and Tempest expects): realm1 / name1."""
    endpoint = f"http://127.0.0.1:{port}/object-store/v1/"
    return {"realm1": {"key": secrets.token_hex(16), "clusters": {"name1": endpoint}}}


def main() -> int:
    args = _arguments()
    bin_dir = args.tempest.resolve() / "bin"
    work = Path(tempfile.mkdtemp(prefix="overcast-conformance-"))
    disk = None
    env = dict(CLOUD_ENV)
    if args.driver == "qemu":
        from overcast.compute.guest import build

        disk = build.ensure(GUEST_DIR).path.read_bytes()
        env["OVERCAST_COMPUTE__DRIVER"] = "qemu"
    (work / "www").mkdir()
    (work / "www" / "cirros.qcow2").write_bytes(disk or discover.tiny_qcow2())
    httpd = _serve(work / "www")
    http_image = f"http://127.0.0.1:{httpd.server_port}/cirros.qcow2"
    # The image service may fetch from that server's port (Glance allows 80 and 443 only).
    env["OVERCAST_IMAGE__IMPORT_ALLOWED_PORTS"] = json.dumps([80, 443, httpd.server_port])
    port = free_port()
    env["OVERCAST_OBJECT_STORE__SYNC_REALMS"] = json.dumps(_sync_realm(port))
    server = Server(work / "cloud", env=env, port=port).start()
    try:
        clouds = yaml.safe_load(server.clouds_yaml.read_text())["clouds"]["overcast"]
        found = discover.facts(server.connect(), clouds["auth"], clouds["region_name"], disk)
        (work / "etc").mkdir()
        conf = tempest_conf.render(found, work, http_image)
        (work / "etc" / "tempest.conf").write_text(conf)
        wanted = args.service or [
            discover.TEMPEST_PACKAGES[t] for t in found.catalog if t in discover.TEMPEST_PACKAGES
        ]
        outcomes = []
        for package in dict.fromkeys(wanted):
            print(f"running tempest.api.{package} ...", flush=True)
            outcome = report.parse(package, _run_service(bin_dir, work, package, args))
            if not outcome.passed + len(outcome.failed) + outcome.skipped:
                # Nothing ran: Tempest refused the configuration or could not load its tests.
                log_tail = (work / f"{package}.log").read_text(errors="replace")[-3000:]
                print(f"no test of tempest.api.{package} ran:\n{log_tail}", flush=True)
            outcomes.append(outcome)
            print(report.table([outcome]).splitlines()[1], flush=True)
        print()
        print(report.table(outcomes))
        if args.json:
            figures = {
                o.service: {"passed": o.passed, "failed": o.failed, "skipped": o.skipped}
                for o in outcomes
            }
            args.json.write_text(json.dumps(figures, indent=2))
        print(f"\nlogs and tempest.conf in {work}" if args.keep else "", flush=True)
        return 0
    finally:
        server.stop()
        httpd.shutdown()
        if not args.keep:
            subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    sys.exit(main())
