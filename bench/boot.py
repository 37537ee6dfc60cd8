"""Boot benchmark: how long a real guest takes to boot through a cloud, beside the same image
booted by a plain `qemu-system-x86_64` in the same run, so that the cloud's own overhead shows
as the difference. Works against any OpenStack endpoint (openstacksdk for auth and discovery).

    python bench/boot.py --cloud NAME [--image overcast-guest --flavor m1.tiny --network none]
        [--boots 5 --parallel 10 --banner 'overcast-guest login banner:']
        [--machine q35 --cpu Nehalem --accel tcg] [--no-plain] [--no-config-drive]

Phases, each for the cloud and for plain QEMU:
- sequential: `--boots` boots one at a time;
- parallel: `--parallel` boots at once.
For every cloud boot: create -> ACTIVE (GET polled every 50 ms) and create -> banner (the
console log, os-getConsoleOutput, polled every 200 ms from ACTIVE on); p50/p99 of each.
For plain QEMU: start -> banner on the serial console (the same image, downloaded from the
cloud, through a qcow2 overlay, the flavor's RAM and vCPUs, the given machine and CPU model,
a config drive when the cloud boot has one, a NIC on QEMU's user network unless `--network
none`). Prints one JSON object. An admin's run raises the project's compute quota to what it
boots and puts it back (bench/quotas.py).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures as cf
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import openstack
import stats
from quotas import room_for

from overcast.compute.guest import plainboot

MICROVERSION = "2.47"


def _summary(values: list[float], wanted: int) -> dict[str, Any]:
    return {**stats.summary(values, "s", 3), "missing": wanted - len(values)}


class CloudBoots:
    """Boots on the cloud under test, timed from the create request."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.conn = openstack.connect(cloud=args.cloud)
        self.compute = self.conn.compute
        self.image = self.conn.image.find_image(args.image, ignore_missing=False)
        self.flavor = self.compute.find_flavor(args.flavor, ignore_missing=False)
        self.prefix = f"bench-boot-{uuid.uuid4().hex[:6]}"

    def one(self, name: str) -> dict[str, float | None]:
        server: dict[str, Any] = {
            "name": name,
            "imageRef": self.image.id,
            "flavorRef": self.flavor.id,
            "networks": self.args.network,
        }
        if self.args.config_drive:
            server["config_drive"] = True
        started = time.perf_counter()
        response = self.compute.post("/servers", json={"server": server}, microversion=MICROVERSION)
        if response.status_code >= 400:
            raise RuntimeError(f"boot failed: {response.status_code} {response.text}")
        sid = response.json()["server"]["id"]
        active = banner = None
        deadline = started + self.args.timeout
        try:
            while time.perf_counter() < deadline:
                body = self.compute.get(f"/servers/{sid}", microversion=MICROVERSION).json()
                status = body["server"]["status"]
                if status == "ERROR":
                    break
                if status == "ACTIVE":
                    active = time.perf_counter() - started
                    break
                time.sleep(0.05)
            while active is not None and time.perf_counter() < deadline:
                output = self.compute.post(
                    f"/servers/{sid}/action",
                    json={"os-getConsoleOutput": {"length": 50}},
                    microversion=MICROVERSION,
                )
                if self.args.banner in output.json().get("output", ""):
                    banner = time.perf_counter() - started
                    break
                time.sleep(0.2)
        finally:
            self.compute.delete(f"/servers/{sid}", microversion=MICROVERSION)
        return {"active": active, "banner": banner}

    def download(self, into: Path) -> Path:
        """The image's data as a qcow2 file (converted when the cloud holds it raw)."""
        target = into / "image"
        with target.open("wb") as handle:
            self.conn.image.download_image(self.image, output=handle, stream=True)
        if self.image.disk_format == "qcow2":
            return target
        converted = into / "image.qcow2"
        subprocess.run(
            ["qemu-img", "convert", "-O", "qcow2", str(target), str(converted)], check=True
        )
        return converted


def cloud_phase(cloud: CloudBoots, count: int, parallel: bool) -> dict[str, Any]:
    names = [f"{cloud.prefix}-{'p' if parallel else 's'}{i}" for i in range(count)]
    started = time.perf_counter()
    if parallel:
        with cf.ThreadPoolExecutor(max_workers=count) as pool:
            results = list(pool.map(cloud.one, names))
    else:
        results = [cloud.one(name) for name in names]
    return {
        "active": _summary([r["active"] for r in results if r["active"] is not None], count),
        "banner": _summary([r["banner"] for r in results if r["banner"] is not None], count),
        "wall_s": round(time.perf_counter() - started, 3),
    }


async def plain_phase(
    image: Path, machine: plainboot.Machine, drive: Path | None, count: int, parallel: bool,
    timeout: float,
) -> dict[str, Any]:  # fmt: skip
    started = time.perf_counter()
    if parallel:
        boots = await asyncio.gather(
            *(plainboot.boot(image, machine, drive, timeout) for _ in range(count))
        )
    else:
        boots = [await plainboot.boot(image, machine, drive, timeout) for _ in range(count)]
    return {
        "banner": _summary([b.banner_s for b in boots if b.banner_s is not None], count),
        "cpu_to_banner": _summary([b.cpu_s for b in boots if b.cpu_s is not None], count),
        "wall_s": round(time.perf_counter() - started, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cloud", required=True, help="a cloud in clouds.yaml")
    parser.add_argument("--image", default="overcast-guest")
    parser.add_argument("--flavor", default="m1.tiny")
    parser.add_argument("--network", default="none", help="'none', 'auto' or a network id")
    parser.add_argument("--boots", type=int, default=5, help="sequential boots")
    parser.add_argument("--parallel", type=int, default=10, help="boots at once")
    parser.add_argument("--banner", default=plainboot.BANNER, help="the console line to wait for")
    parser.add_argument("--timeout", type=float, default=300.0, help="per boot, s")
    parser.add_argument("--machine", help="plain QEMU's machine (default: the image's "
                        "hw_machine_type, else q35)")  # fmt: skip
    parser.add_argument("--cpu", default="Nehalem", help="plain QEMU's CPU model")
    parser.add_argument("--accel", default="tcg", help="plain QEMU's accelerator: tcg or kvm")
    parser.add_argument("--no-plain", dest="plain", action="store_false")
    parser.add_argument("--no-cloud", dest="cloud_boots", action="store_false")
    parser.add_argument("--no-config-drive", dest="config_drive", action="store_false")
    args = parser.parse_args(argv)

    cloud = CloudBoots(args)
    out: dict[str, Any] = {
        "cloud": args.cloud,
        "image": cloud.image.name,
        "flavor": cloud.flavor.name,
        "boots": args.boots,
        "parallel": args.parallel,
    }
    if args.cloud_boots:
        with room_for(cloud.conn, max(args.boots, args.parallel), cloud.flavor) as out["quota"]:
            out["cloud_sequential"] = cloud_phase(cloud, args.boots, parallel=False)
            out["cloud_parallel"] = cloud_phase(cloud, args.parallel, parallel=True)
    if args.plain:
        machine = plainboot.Machine(
            machine=args.machine or cloud.image.hw_machine_type or "q35",
            cpu=args.cpu,
            accel=args.accel,
            memory_mb=cloud.flavor.ram,
            vcpus=cloud.flavor.vcpus,
            nic=args.network != "none",
        )
        drive_path = Path("CONFIG-DRIVE.iso") if args.config_drive else None
        out["plain_qemu_settings"] = " ".join(machine.argv(Path("IMAGE"), drive_path))
        with tempfile.TemporaryDirectory(prefix="bench-boot-") as scratch:
            image = cloud.download(Path(scratch))
            drive = None
            if args.config_drive:
                meta = json.dumps({"uuid": str(uuid.uuid4()), "hostname": "bench"})
                drive = plainboot.config_drive(Path(scratch) / "config.iso", meta)
            for key, parallel, count in (
                ("plain_sequential", False, args.boots),
                ("plain_parallel", True, args.parallel),
            ):
                out[key] = asyncio.run(
                    plain_phase(image, machine, drive, count, parallel, args.timeout)
                )
    out["derived"] = _derived(out)
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


def _derived(out: dict[str, Any]) -> dict[str, Any]:
    """The aims: overhead over plain QEMU, and 10 at once against one alone."""

    def p50(phase: str, metric: str) -> float | None:
        value = out.get(phase, {}).get(metric, {}).get("p50_s")
        return float(value) if value is not None else None

    derived: dict[str, Any] = {}
    cloud_seq, plain_seq = p50("cloud_sequential", "banner"), p50("plain_sequential", "banner")
    if cloud_seq is not None and plain_seq is not None:
        derived["overhead_banner_p50_s"] = round(cloud_seq - plain_seq, 3)
    cloud_par = p50("cloud_parallel", "banner")
    if cloud_par is not None and cloud_seq:
        derived["cloud_parallel_over_sequential_banner_p50"] = round(cloud_par / cloud_seq, 2)
    plain_par = p50("plain_parallel", "banner")
    if plain_par is not None and plain_seq:
        derived["plain_parallel_over_sequential_banner_p50"] = round(plain_par / plain_seq, 2)
    return derived


if __name__ == "__main__":
    sys.exit(main())
