"""Real guests (QEMU under TCG) on the linuxbridge dataplane: two guests of one project get
their addresses (and their network's MTU) by DHCP and reach each other, a bulk transfer
between them included; a guest on another project's network with the same CIDR cannot reach
them; a restart of Overcast leaves traffic and DHCP as they were; deleting everything leaves
no bridge, tap, DHCP namespace, dnsmasq or firewall rule. The tests share the guests and run
in this order (the last one deletes them)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

from overcast.network.drivers.linuxbridge import names
from tests.network.dataplane.conftest import (
    DataplaneCloud,
    Probe,
    assert_not_in_root,
    dhcp_namespaces,
    dnsmasq_pids,
    leases,
    ns_links,
    ns_run,
)

CIDR = "10.50.0.0/24"
G1, G2, G3, PROBE_A, PROBE_B = "10.50.0.11", "10.50.0.12", "10.50.0.13", "10.50.0.21", "10.50.0.22"
G2_EXTRA = "10.50.0.32"
POOL = ("10.50.0.100", "10.50.0.200")


@dataclass
class World:
    cloud: DataplaneCloud
    nets: list[Any]
    servers: list[Any]
    probe_a: Probe
    probe_b: Probe


@pytest.fixture(scope="module")
def world(dataplane_cloud: DataplaneCloud) -> World:
    cloud = dataplane_cloud
    # The DHCP ports' addresses come from POOL, never one of the guests' or probes': a ping that
    # crosses projects must find nobody.
    net_a, sub_a = cloud.network(cloud.demo, "dp-a", CIDR, POOL)
    net_b, sub_b = cloud.network(cloud.conn, "dp-b", CIDR, POOL)  # another project, same CIDR
    servers = cloud.boot_ports(
        (cloud.demo, "dp-g1", cloud.port(cloud.demo, sub_a, G1)),
        (cloud.demo, "dp-g2", cloud.port(cloud.demo, sub_a, G2)),
        (cloud.conn, "dp-g3", cloud.port(cloud.conn, sub_b, G3)),
    )
    return World(
        cloud, [net_a, net_b], servers,
        cloud.probe(cloud.demo, sub_a, PROBE_A), cloud.probe(cloud.conn, sub_b, PROBE_B),
    )  # fmt: skip


def test_guests_get_their_dhcp_addresses(world: World) -> None:
    cloud = world.cloud
    spots = ((G1, world.probe_a, 0), (G2, world.probe_a, 0), (G3, world.probe_b, 1))
    for address, probe, net in spots:
        shown = cloud.ssh(probe, address, "ip -4 -o addr show dev eth0")
        assert f"inet {address}/24" in shown, shown
        # The address came from DHCP: dnsmasq leased it to the port's MAC.
        (port,) = list(cloud.conn.network.ports(fixed_ips=[f"ip_address={address}"],
                                                network_id=world.nets[net].id))  # fmt: skip
        assert f"{port.mac_address} {address} " in leases(cloud.srv.data_dir, world.nets[net].id)
    # The cloud is shared: other tests' networks have DHCP ports of their own.
    mine = {n.id for n in world.nets}
    ports = [
        p for p in cloud.conn.network.ports(device_owner="network:dhcp") if p.network_id in mine
    ]
    assert {p.network_id for p in ports} == mine
    assert all(p.status == "ACTIVE" and p.fixed_ips for p in ports)
    for server in world.servers:
        assert cloud.conn.network.ports(device_id=server.id)
        (port,) = list(cloud.conn.network.ports(device_id=server.id))
        assert port.status == "ACTIVE" and port.binding_vif_type == "bridge"
        assert port.binding_vif_details["namespace"] == cloud.namespace


def test_guests_of_a_network_reach_each_other(world: World) -> None:
    out = world.cloud.ssh(world.probe_a, G1, f"ping -c 3 -W 2 {G2}")
    assert " 0% packet loss" in out, out


def test_a_bulk_transfer_between_guests_completes(world: World) -> None:
    """Guests take the network's MTU from DHCP (a VXLAN network's 1450: the bridge drops
    larger frames unless they are GSO ones, so a guest left at 1500 stalls as soon as TCP
    sends a full-sized segment on its own: 91 KB of 4 MiB, then nothing), and 4 MiB arrive
    whole."""
    cloud = world.cloud
    mtu = cloud.conn.network.get_network(world.nets[0].id).mtu
    for address in (G1, G2):
        assert cloud.ssh(world.probe_a, address, "cat /sys/class/net/eth0/mtu").strip() == str(mtu)
    size = 4 << 20
    cloud.ssh(
        world.probe_a, G1,
        f"mkdir -p /tmp/www && dd if=/dev/zero of=/tmp/www/blob bs=65536 count={size >> 16} "
        "2>/dev/null && httpd -p 8080 -h /tmp/www",
    )  # fmt: skip
    out = cloud.ssh(world.probe_a, G2, f"timeout 50 wget -q -O - http://{G1}:8080/blob | wc -c")
    assert out.strip() == str(size), out


def test_another_projects_network_is_out_of_reach(world: World) -> None:
    cloud = world.cloud
    # g3 reaches its own network (so a failure below is isolation, not a broken guest)...
    assert " 0% packet loss" in cloud.ssh(world.probe_b, G3, f"ping -c 2 -W 2 {PROBE_B}")
    # ...but not the other project's guests, though their addresses are in its own subnet.
    for address in (G1, G2):
        out = cloud.ssh(world.probe_b, G3, f"ping -c 2 -W 1 {address}")
        assert "100% packet loss" in out, out
    out = cloud.ssh(world.probe_a, G1, f"ping -c 2 -W 1 {G3}")
    assert "100% packet loss" in out, out


def test_dataplane_lives_in_its_namespaces(world: World) -> None:
    cloud = world.cloud
    links = ns_links(cloud.namespace)
    objects = []
    for net in world.nets:
        assert names.bridge(net.id) in links
        objects.append(names.bridge(net.id))
    for server in world.servers:
        (port,) = list(cloud.conn.network.ports(device_id=server.id))
        assert names.tap(port.id) in links
        objects.append(names.tap(port.id))
    assert_not_in_root(*objects)
    # The cloud is shared with the package's other modules: count only this module's networks.
    net_ids = [n.id for n in world.nets]
    wanted = sorted(names.dhcp_namespace(n) for n in net_ids)
    deadline = time.monotonic() + 15  # a pass of the agent puts back what went missing
    while (
        sorted(dhcp_namespaces(cloud.srv.data_dir, net_ids)) != wanted
        and time.monotonic() < deadline
    ):
        time.sleep(0.5)
    assert sorted(dhcp_namespaces(cloud.srv.data_dir, net_ids)) == wanted
    assert len(dnsmasq_pids(cloud.srv.data_dir, net_ids)) == 2
    agent = next(a for a in cloud.conn.network.agents() if a.agent_type == "Linux bridge agent")
    assert "802.1q" in agent.configuration["vlan"] or agent.configuration["vlan"] == "supported"


def test_restart_keeps_traffic_and_leases(world: World) -> None:
    cloud = world.cloud
    before = sorted(dnsmasq_pids(cloud.srv.data_dir))
    cloud.srv.stop()
    assert sorted(dnsmasq_pids(cloud.srv.data_dir)) == before  # DHCP outlives Overcast
    assert " 0% packet loss" in cloud.ssh(world.probe_a, G1, f"ping -c 2 -W 2 {G2}")
    cloud.srv.start(timeout=400)
    cloud.conn = cloud.srv.connect()
    time.sleep(4)  # a full pass of the agent
    # The restarted agent found its dnsmasqs running and left them (their leases with them).
    # (Only a DHCP namespace removed under it, by another cloud's agent on this host, would
    # have it start one again.)
    since = cloud.srv.log.read_text().split("Overcast is up")[-1]
    assert "was not running" not in since and "command line changed" not in since
    assert " 0% packet loss" in cloud.ssh(world.probe_a, G1, f"ping -c 3 -W 2 {G2}")
    # A lease renewed after the restart is the same address.
    out = cloud.ssh(world.probe_a, G2, "kill -USR1 $(pidof udhcpc); sleep 3; ip -4 -o addr")
    assert f"inet {G2}/24" in out, out


def test_a_hot_plugged_port_gets_its_address(world: World) -> None:
    """A port attached to a running guest: its tap is opened inside the dataplane namespace
    and handed to QEMU over QMP (getfd); the guest's new NIC gets the port's address by DHCP."""
    cloud = world.cloud
    (subnet,) = list(cloud.demo.network.subnets(network_id=world.nets[0].id))
    port = cloud.port(cloud.demo, subnet, G2_EXTRA)
    cloud.demo.compute.create_server_interface(world.servers[1], port_id=port.id)
    deadline = time.monotonic() + 120
    while cloud.conn.network.get_port(port.id).status != "ACTIVE":
        assert time.monotonic() < deadline, "the hot-plugged port never went ACTIVE"
        time.sleep(1)
    assert names.tap(port.id) in ns_links(cloud.namespace)
    assert_not_in_root(names.tap(port.id))
    out = cloud.ssh(
        world.probe_a, G2,
        "for i in $(seq 30); do [ -e /sys/class/net/eth1 ] && break; sleep 1; done; "
        "udhcpc -i eth1 -n -q -t 10 -T 2 -s /etc/overcast/udhcpc.script >/dev/null 2>&1; "
        "ip -4 -o addr show dev eth1",
    )  # fmt: skip
    assert f"inet {G2_EXTRA}/24" in out, out


def test_deleting_everything_leaves_nothing(world: World) -> None:
    cloud = world.cloud
    cloud.remove_probes()
    # The cloud is shared with other modules: what must go is what this one made.
    net_ids = {net.id for net in world.nets}
    ports = [p for net in world.nets for p in cloud.conn.network.ports(network_id=net.id)]
    mine = {names.bridge(n) for n in net_ids}
    taps = {names.tap(p.id) for p in ports}
    mine |= taps | {names.dhcp_peer(p.id) for p in ports}
    for server in world.servers:
        cloud.conn.compute.delete_server(server)
    for server in world.servers:
        cloud.conn.compute.wait_for_delete(server, wait=120)
    for port in ports:  # the guests' ports were given, so they outlive the guests
        if port.device_owner != "network:dhcp":
            cloud.conn.network.delete_port(port)
    for net in world.nets:
        cloud.conn.network.delete_network(net)

    def left() -> list[str]:
        links = [n for n in ns_links(cloud.namespace) if n in mine]
        spaces = dhcp_namespaces(cloud.srv.data_dir, net_ids)
        daemons = dnsmasq_pids(cloud.srv.data_dir, net_ids)
        # The firewall's tables are the host's (they stay); nothing in them names these ports.
        rules = ns_run(cloud.namespace, "nft", "list", "table", "bridge", names.NFT_TABLE).stdout
        filtered = [t for t in taps if f'"{t}"' in rules]
        return links + spaces + [str(pid) for pid in daemons] + filtered

    deadline = time.monotonic() + 30
    while left() and time.monotonic() < deadline:
        time.sleep(1)
    assert left() == []
