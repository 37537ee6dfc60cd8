"""Shared fixtures for the dataplane's end-to-end tests (l2, l3 and firewall use them): one
cloud on the linuxbridge network driver and the qemu compute driver (TCG) with a dataplane
namespace of its own, guests booted in parallel on ports with chosen addresses, probes (a
test namespace on a network's bridge, holding a port of the network so that its address is
reserved and security groups know it) and commands run in a guest over SSH from a probe.

The root namespace's links and nftables tables are recorded before the cloud starts and
compared after it is gone: nothing may change them."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from overcast.compute.drivers.qemu import hostinfo
from overcast.network.drivers.linuxbridge import names
from tests.compute.qemu.conftest import BANNER, GUEST_DIR, Cloud, qemu_pids
from tests.helpers.nodes import made_namespaces
from tests.helpers.server import Server

SSH_TIMEOUT = float(os.environ.get("OVERCAST_TEST_SSH_TIMEOUT", "240"))


def root_links() -> list[str]:
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
    return sorted(line.split(":")[1].strip().split("@")[0] for line in links.stdout.splitlines())


def root_snapshot() -> tuple[list[str], str]:
    """The root namespace's link names and nftables tables. Guests' taps that other test
    sessions on this host make and remove meanwhile (`tap…`, `oct…`: older code, or another
    driver) come and go on their own and are left out; `assert_not_in_root` checks that
    none of this cloud's objects is ever there."""
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True)
    links = [n for n in root_links() if not n.startswith(("tap", names.TAP))]
    return links, tables.stdout


def assert_not_in_root(*objects: str) -> None:
    present = set(root_links())
    assert not present & set(objects), f"in the root namespace: {present & set(objects)}"


def ns_run(namespace: str, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsenter", f"--net=/run/netns/{namespace}", *argv],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def ns_links(namespace: str) -> list[str]:
    out = subprocess.run(["ip", "-n", namespace, "-o", "link"], capture_output=True, text=True)
    return [line.split(":")[1].strip().split("@")[0] for line in out.stdout.splitlines()]


@dataclass
class Probe:
    """A test namespace on a network's bridge with one port's MAC and address."""

    namespace: str
    port: Any
    address: str


class DataplaneCloud(Cloud):
    def __init__(self, srv: Server, namespace: str, key: Path) -> None:
        super().__init__(srv)
        self.namespace = namespace  # the cloud's dataplane namespace
        self.key = key
        self.demo = srv.connect(cloud="overcast-demo")
        self.probes: list[tuple[str, str]] = []  # (namespace, its veth peer on the bridge)
        public = Path(f"{key}.pub").read_text()
        for conn in (self.conn, self.demo):
            if conn.compute.find_keypair("dataplane") is None:
                conn.compute.create_keypair(name="dataplane", public_key=public)

    def network(
        self, conn: Any, name: str, cidr: str, pool: tuple[str, str] | None = None
    ) -> tuple[Any, Any]:
        """A network and subnet; `pool` (first, last) keeps the addresses the service picks
        (the DHCP port's) away from those a test fixes."""
        net = conn.network.create_network(name=name)
        pools = {"allocation_pools": [{"start": pool[0], "end": pool[1]}]} if pool else {}
        subnet = conn.network.create_subnet(
            network_id=net.id, ip_version=4, cidr=cidr, name=f"{name}-subnet", **pools
        )
        return net, subnet

    def port(self, conn: Any, subnet: Any, address: str, **extra: Any) -> Any:
        return conn.network.create_port(
            network_id=subnet.network_id,
            fixed_ips=[{"subnet_id": subnet.id, "ip_address": address}],
            **extra,
        )

    def boot_ports(self, *specs: tuple[Any, str, Any]) -> list[Any]:
        """Guests at once, one per (connection, name, port), each ACTIVE with its banner on
        the console. Their keys come by config drive (no metadata service needed)."""
        servers = [
            conn.compute.create_server(
                name=name,
                flavor_id=self.flavor.id,
                image_id=self.image.id,
                networks=[{"port": port.id}],
                key_name="dataplane",
                config_drive=True,
            )  # fmt: skip
            for conn, name, port in specs
        ]
        servers = [self.wait_status(s, "ACTIVE") for s in servers]
        for server in servers:
            self.wait_console(server, BANNER)
        return servers

    def probe(self, conn: Any, subnet: Any, address: str) -> Probe:
        """A namespace standing on the subnet's network, holding a port at `address`."""
        port = self.port(conn, subnet, address, name="probe")
        name = f"ocprobe{uuid.uuid4().hex[:6]}"
        peer = f"ocz{uuid.uuid4().hex[:8]}"
        bridge = names.bridge(subnet.network_id)
        prefix = subnet.cidr.split("/")[1]
        for command in (
            ["ip", "netns", "add", name],
            ["ip", "-n", self.namespace, "link", "add", peer, "type", "veth", "peer", "eth0",
             "netns", name],
            ["ip", "-n", self.namespace, "link", "set", peer, "master", bridge, "up"],
            ["ip", "-n", name, "link", "set", "eth0", "address", port.mac_address, "up"],
            ["ip", "-n", name, "link", "set", "lo", "up"],
            ["ip", "-n", name, "addr", "add", f"{address}/{prefix}", "dev", "eth0"],
        ):  # fmt: skip
            subprocess.run(command, check=True, capture_output=True)
        self.probes.append((name, peer))
        return Probe(name, port, address)

    def ssh(self, probe: Probe, address: str, command: str, timeout: float = SSH_TIMEOUT) -> str:
        """`command`'s output in the guest at `address`, over SSH from `probe` (retried until
        the guest answers: it may still be booting or getting its lease)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                result = ns_run(
                    probe.namespace, "ssh", "-i", str(self.key), "-o", "StrictHostKeyChecking=no",
                    "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5",
                    "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
                    "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", f"root@{address}", command,
                    timeout=60,
                )  # fmt: skip
            except subprocess.TimeoutExpired:  # a starved TCG guest: try again
                last = "timed out"
                continue
            if result.returncode != 255:  # 255: ssh itself failed
                return result.stdout + (
                    f"\n[exit {result.returncode}]" if result.returncode else ""
                )
            last = result.stderr
            time.sleep(2)
        raise AssertionError(f"no SSH to {address} from {probe.namespace}: {last}")

    def remove_probes(self) -> None:
        for name, peer in self.probes:
            subprocess.run(["ip", "-n", self.namespace, "link", "del", peer], capture_output=True)
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.probes.clear()


def dnsmasq_pids(data_dir: Path, networks: Iterable[str] | None = None) -> list[int]:
    """This cloud's dnsmasq processes (only those of `networks` when given)."""
    out = subprocess.run(["pgrep", "-f", "dnsmasq"], capture_output=True, text=True).stdout
    wanted = None if networks is None else [n.encode() for n in networks]
    found = []
    for pid in out.split():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if str(data_dir).encode() in cmdline and (
                wanted is None or any(n in cmdline for n in wanted)
            ):
                found.append(int(pid))
        except OSError:
            continue
    return found


def leases(data_dir: Path, network_id: str) -> str:
    """dnsmasq's lease file of a network (expiry, MAC, address, hostname, client id a line)."""
    path = data_dir / "network" / "dhcp" / network_id / "leases"
    return path.read_text() if path.exists() else ""


def dhcp_namespaces(data_dir: Path, networks: Iterable[str] | None = None) -> list[str]:
    """The DHCP namespaces this cloud's dataplane made (as its data directory records them),
    only those of `networks` when given."""
    root = data_dir / "network" / "dhcp"
    made = [names.dhcp_namespace(d.name) for d in root.iterdir()] if root.exists() else []
    if networks is not None:
        made = [n for n in made if names.network_of_dhcp_namespace(n) in set(networks)]
    present = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [n for n in made if n in present]


def usable() -> str | None:
    """Why real guests on the linuxbridge dataplane cannot run here, or None."""
    if os.geteuid() != 0:
        return "the linuxbridge dataplane needs root"
    if not hostinfo.qemu_usable("qemu-system-x86_64"):
        return "QEMU cannot run here"
    return None


@pytest.fixture(scope="package")
def root_before() -> Iterator[tuple[list[str], str]]:
    before = root_snapshot()
    yield before
    assert root_snapshot() == before, "the root namespace's links or nftables tables changed"


@pytest.fixture(scope="package")
def dataplane_cloud(root_before: Any) -> Iterator[DataplaneCloud]:
    reason = usable()
    if reason:
        pytest.skip(reason)
    from overcast.compute.guest import build

    build.ensure(GUEST_DIR)
    # Not under pytest's basetemp: other sessions' pytest runs on this host prune old ones,
    # and this cloud lives for minutes.
    data_dir = Path(tempfile.mkdtemp(prefix="overcast-dataplane-", dir="/var/tmp"))
    key = data_dir / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    namespace = f"ocdp{uuid.uuid4().hex[:6]}"
    env = {
        "OVERCAST_COMPUTE__DRIVER": "qemu",
        "OVERCAST_COMPUTE__DEFAULT_IMAGE": "overcast-guest",
        "OVERCAST_COMPUTE__GUEST_IMAGE_DIR": str(GUEST_DIR),
        "OVERCAST_COMPUTE__SHUTDOWN_TIMEOUT": "20",
        "OVERCAST_NETWORK__DRIVER": "linuxbridge",
        "OVERCAST_NETWORK__LINUXBRIDGE__NAMESPACE": namespace,
        "OVERCAST_NETWORK__REPORT_INTERVAL": "3",
        "OVERCAST_NETWORK__BOOTSTRAP": "false",
    }
    srv = Server(data_dir, env=env)
    cloud: DataplaneCloud | None = None
    try:
        srv.start(timeout=400)
        cloud = DataplaneCloud(srv, namespace, key)
        yield cloud
    finally:
        if cloud is not None:
            cloud.remove_probes()
        try:
            if srv.process is None:
                srv.start()
            conn = srv.connect()
            for server in conn.compute.servers(all_projects=True):
                conn.compute.delete_server(server)
            deadline = time.monotonic() + 60
            while list(conn.compute.servers(all_projects=True)) and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            srv.stop()
            for pid in qemu_pids(data_dir) + dnsmasq_pids(data_dir):  # nothing may outlive us
                os.kill(pid, 9)
            for name in [*made_namespaces(data_dir, namespace), namespace]:
                subprocess.run(["ip", "netns", "del", name], capture_output=True)
            with contextlib.suppress(OSError):  # for a look after a failure
                shutil.copy(srv.log, f"/var/tmp/overcast-dataplane-{namespace}-server.log")
            shutil.rmtree(data_dir, ignore_errors=True)
