"""Security groups with real guests (QEMU under TCG) on the linuxbridge dataplane: a guest's
SSH port is closed until a rule opens it and closed again once the rule is gone; ping between
guests follows an ICMP rule whose remote is a group, and stops when the pinging guest leaves
that group; a probe outside the group never gets through."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.network.dataplane.conftest import DataplaneCloud, Probe, leases, ns_run

CIDR = "10.61.0.0/24"
A, B, PROBE = "10.61.0.10", "10.61.0.11", "10.61.0.250"
PROBE_SCRIPT = str(Path(__file__).parents[1] / "firewall" / "probe.py")


def probe(where: Probe, mode: str, *args: object) -> bool:
    out = subprocess.run(
        ["ip", "netns", "exec", where.namespace, sys.executable, PROBE_SCRIPT, mode, *map(str, args)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return out.stdout.strip() == "ok"


def tables(cloud: DataplaneCloud) -> str:
    """The firewall's tables and links of the cloud, for a failure's message."""
    return "\n".join(
        ns_run(cloud.namespace, *argv).stdout
        for argv in (["nft", "list", "ruleset"], ["ip", "-br", "link"], ["conntrack", "-L"])
    )


def never(check: object, seconds: float = 4.0) -> bool:
    """True when `check` fails on every try for `seconds` (a closed port stays closed)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return False
        time.sleep(0.5)
    return True


def test_security_groups_govern_guests(dataplane_cloud: DataplaneCloud) -> None:
    cloud = dataplane_cloud
    conn = cloud.demo
    net, subnet = cloud.network(conn, "fw-net", CIDR)
    ssh = conn.network.create_security_group(name="fw-ssh")  # new groups allow egress only
    friends = conn.network.create_security_group(name="fw-friends")
    closed = conn.network.create_security_group(name="fw-b")
    conn.network.create_security_group_rule(
        security_group_id=ssh.id, direction="ingress", protocol="tcp",
        port_range_min=22, port_range_max=22,
    )  # fmt: skip
    port_a = cloud.port(conn, subnet, A, security_group_ids=[ssh.id, friends.id])
    port_b = cloud.port(conn, subnet, B, security_group_ids=[closed.id])
    cloud.boot_ports((conn, "fw-a", port_a), (conn, "fw-b", port_b))
    watcher = cloud.probe(conn, subnet, PROBE)  # in the project's default group only
    assert "ok" in cloud.ssh(watcher, A, "echo ok")
    deadline = time.monotonic() + 240
    while port_b.mac_address not in leases(cloud.srv.data_dir, net.id):
        assert time.monotonic() < deadline, "guest B got no lease"
        time.sleep(1)

    # B is up with its address, yet its SSH port is closed until a rule opens it...
    assert never(lambda: probe(watcher, "connect", B, 22)), tables(cloud)
    rule = conn.network.create_security_group_rule(
        security_group_id=closed.id, direction="ingress", protocol="tcp",
        port_range_min=22, port_range_max=22, remote_ip_prefix="10.61.0.0/24",
    )  # fmt: skip
    assert "ok" in cloud.ssh(watcher, B, "echo ok", timeout=30)
    # ...and closed again once the rule is gone.
    conn.network.delete_security_group_rule(rule)
    deadline = time.monotonic() + 10  # the removal reaches the host (bench: ~100 ms when idle)
    while probe(watcher, "connect", B, 22):
        assert time.monotonic() < deadline, tables(cloud)
        time.sleep(0.2)
    assert never(lambda: probe(watcher, "connect", B, 22)), tables(cloud)

    # Ping from A to B: only once B allows ICMP from A's group, and never from the probe.
    out = cloud.ssh(watcher, A, f"ping -c 2 -W 1 {B}")
    assert "100% packet loss" in out, out
    conn.network.create_security_group_rule(
        security_group_id=closed.id, direction="ingress", protocol="icmp", remote_group_id=friends.id
    )  # fmt: skip
    deadline = time.monotonic() + 20  # the rule and B's address in A's neighbours
    while " 0% packet loss" not in cloud.ssh(watcher, A, f"ping -c 1 -W 1 {B}"):
        assert time.monotonic() < deadline, "A cannot ping B though B's rule allows A's group"
    out = cloud.ssh(watcher, A, f"ping -c 3 -W 2 {B}")
    assert " 0% packet loss" in out, out
    assert never(lambda: probe(watcher, "ping", B))
    # A leaves the group: B's remote-group set loses its address.
    conn.network.update_port(port_a, security_group_ids=[ssh.id])
    deadline = time.monotonic() + 20
    while " 0% packet loss" in cloud.ssh(watcher, A, f"ping -c 1 -W 1 {B}"):
        assert time.monotonic() < deadline, "A still pings B out of the group"
    out = cloud.ssh(watcher, A, f"ping -c 2 -W 1 {B}")
    assert "100% packet loss" in out, out
