"""Guest traffic between nodes over VXLAN: a controller that is also the network node (its
network agent serves DHCP and runs the router) and two compute nodes whose agents are L2
only, each node a namespace host (`tests.helpers.fabric`) with its dataplane namespace and
its address on the test's bridge as VXLAN tunnel address. Two real guests (QEMU, TCG) on one
self-service VXLAN network, one on each compute node, get their addresses and MTU by DHCP
from the network node, ping each other, and one reaches the other's floating IP through the
router (guest -> network node -> other guest and back). The guests report by user data on
their consoles, read through the compute API."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openstack
import pytest

from overcast.compute.guest import build, register
from overcast.network.drivers.linuxbridge import names
from tests.compute.qemu.conftest import BANNER, BOOT_TIMEOUT, GUEST_DIR
from tests.helpers import nodes
from tests.multinode.conftest import host_of, hosted_cloud
from tests.network.dataplane.conftest import assert_not_in_root, leases, usable

pytestmark = [pytest.mark.xdist_group("multinode-guest-traffic"), pytest.mark.slow]

CIDR, G1, G2 = "10.60.0.0/24", "10.60.0.11", "10.60.0.12"
PUBLIC = "203.0.113.0/24"
L2_ONLY = {"OVERCAST_NETWORK__DHCP_AGENT": "false", "OVERCAST_NETWORK__L3_AGENT": "false"}


@dataclass
class World:
    cloud: nodes.Cloud
    conn: openstack.connection.Connection
    net: Any
    ports: list[Any]
    servers: list[Any]
    router_port: Any
    floating_ip: str


def _script(peer: str, floating_ip: str, every_boot: bool = False) -> str:
    """User data: wait for the peer, then say on the console what reaching it and the
    floating IP gave, the metadata's instance id, the MTU DHCP set and the boot's id (run on
    every boot when `every_boot`: it forgets that it ran)."""
    url = "http://169.254.169.254/openstack/latest/meta_data.json"
    lines = [
        "#!/bin/sh",
        f"for i in $(seq 90); do ping -c 1 -W 2 {peer} >/dev/null && break; sleep 1; done",
        f'echo "vx-peer $(ping -c 3 -W 2 {peer} | grep "packet loss")"',
        f'echo "vx-fip $(ping -c 3 -W 2 {floating_ip} | grep "packet loss")"',
        f'echo "vx-md $(timeout 20 wget -q -O - {url} | grep -o uuid[^,]*)"',
        'echo "vx-mtu $(cat /sys/class/net/eth0/mtu) vx-done $(cat /proc/sys/kernel/random/boot_id)"',
    ]
    if every_boot:
        lines.append("rm -f /var/lib/overcast/user-data-ran-*")
    return "\n".join(lines) + "\n"


def _start_nodes(cloud: nodes.Cloud) -> None:
    cloud.node("controller", "controller,network").start(timeout=240)
    computes = [cloud.node(name, "compute,network", **L2_ONLY) for name in ("nodea", "nodeb")]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda node: node.start(timeout=240), computes))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    reason = usable()
    if reason:
        pytest.skip(reason)
    built = build.ensure(GUEST_DIR)
    with hosted_cloud(
        tmp_path_factory.mktemp("vxlan"),
        OVERCAST_COMPUTE__DRIVER="qemu",
        OVERCAST_COMPUTE__QEMU__ACCEL="tcg",  # as the suite's guests boot everywhere
        OVERCAST_COMPUTE__DEFAULT_IMAGE="",
        OVERCAST_COMPUTE__GUEST_IMAGE_DIR=str(GUEST_DIR),
        OVERCAST_COMPUTE__SHUTDOWN_TIMEOUT="10",
        OVERCAST_NETWORK__DRIVER="linuxbridge",
        OVERCAST_NETWORK__REPORT_INTERVAL="3",
        OVERCAST_NETWORK__BOOTSTRAP="false",
    ) as cloud:
        _start_nodes(cloud)
        conn = cloud.nodes[0].connect()
        image = conn.image.create_image(
            filename=str(built.path), wait=True, **register.image_fields("vx-guest", built)
        )
        flavor = conn.compute.create_flavor(name="vx.tiny", ram=256, vcpus=1, disk=1)
        public = conn.network.create_network(
            name="public", is_router_external=True,
            provider_network_type="flat", provider_physical_network="public",
        )  # fmt: skip
        conn.network.create_subnet(
            network_id=public.id, ip_version=4, cidr=PUBLIC, enable_dhcp=False
        )
        net = conn.network.create_network(name="vx")
        subnet = conn.network.create_subnet(
            network_id=net.id, ip_version=4, cidr=CIDR,
            allocation_pools=[{"start": "10.60.0.100", "end": "10.60.0.200"}],
        )  # fmt: skip
        router = conn.network.create_router(
            name="vx-r", external_gateway_info={"network_id": public.id}
        )
        conn.network.add_interface_to_router(router, subnet_id=subnet.id)
        # Pings through the router come from its address (hairpin NAT), not the group's.
        icmp = conn.network.create_security_group(name="vx-icmp")
        conn.network.create_security_group_rule(
            security_group_id=icmp.id, direction="ingress", ethertype="IPv4", protocol="icmp"
        )
        groups = [
            icmp.id,
            *(
                g.id
                for g in conn.network.security_groups(name="default", project_id=net.project_id)
            ),
        ]
        ports = [
            conn.network.create_port(
                network_id=net.id, security_group_ids=groups,
                fixed_ips=[{"subnet_id": subnet.id, "ip_address": address}],
            )
            for address in (G1, G2)
        ]  # fmt: skip
        fip = conn.network.create_ip(floating_network_id=public.id, port_id=ports[1].id)
        fip_address = fip.floating_ip_address
        scripts = (_script(G2, fip_address), _script(G1, fip_address, every_boot=True))
        servers = [
            conn.compute.create_server(
                name=f"vx-g{i + 1}", flavor_id=flavor.id, image_id=image.id,
                networks=[{"port": ports[i].id}], config_drive=True,
                availability_zone=f"nova:{host}",
                user_data=base64.b64encode(scripts[i].encode()).decode(),
            )
            for i, host in enumerate(("nodea", "nodeb"))
        ]  # fmt: skip
        servers = [conn.compute.wait_for_server(s, wait=BOOT_TIMEOUT) for s in servers]
        (router_port,) = list(
            conn.network.ports(device_id=router.id, device_owner="network:router_interface")
        )
        yield World(cloud, conn, net, ports, servers, router_port, fip.floating_ip_address)


def _report(world: World, server: Any, old: frozenset[str] = frozenset()) -> str:
    """What the guest's user data said on its console in a boot whose id is not in `old`,
    from that boot's banner on."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    out = ""
    while time.monotonic() < deadline:
        out = str(world.conn.compute.get_server_console_output(server)["output"])
        for section in out.split(BANNER)[1:]:
            if any(boot not in old for boot in _boots(section)):
                return BANNER + section
        time.sleep(2)
    raise AssertionError(f"no report of a new boot on {server.name}'s console:\n{out[-3000:]}")


def _boots(text: str) -> set[str]:
    """The boot ids of the reports in `text`."""
    return {line.split()[-1] for line in text.splitlines() if " vx-done " in line}


def _line(report: str, prefix: str) -> str:
    (found,) = [line for line in report.splitlines() if line.startswith(prefix)]
    return found


def _vxlan(node: nodes.Node, namespace: str, vni: int) -> dict[str, Any]:
    out = node.run("ip", "-n", namespace, "-d", "-j", "link", "show", names.vxlan(vni))
    return dict(json.loads(out)[0])


def _fdb(node: nodes.Node, namespace: str, vni: int) -> set[tuple[str, str]]:
    out = node.run("bridge", "-n", namespace, "-j", "fdb", "show", "dev", names.vxlan(vni))
    return {(e["mac"], e["dst"]) for e in json.loads(out) if e.get("dst")}


def _links(node: nodes.Node, namespace: str | None = None) -> list[str]:
    out = node.run("ip", *(["-n", namespace] if namespace else []), "-j", "link", "show")
    return [link["ifname"] for link in json.loads(out)]


def test_guests_on_two_nodes_reach_each_other_over_vxlan(world: World) -> None:
    conn, hosts = world.conn, world.cloud.hosts
    assert hosts is not None
    assert [host_of(conn, s.id) for s in world.servers] == ["nodea", "nodeb"]
    # The network node serves DHCP and routes; the compute nodes' agents are L2 only.
    agents = {(a.host, a.agent_type) for a in conn.network.agents()}
    assert agents == {
        ("controller", "Linux bridge agent"), ("controller", "DHCP agent"),
        ("controller", "L3 agent"), ("nodea", "Linux bridge agent"),
        ("nodeb", "Linux bridge agent"),
    }  # fmt: skip
    for server, port, address in zip(world.servers, world.ports, (G1, G2), strict=True):
        _reports_its_network(world, _report(world, server), server, port, address)


def _reports_its_network(world: World, report: str, server: Any, port: Any, address: str) -> None:
    conn = world.conn
    banner = report.splitlines()[0]
    assert f"addresses={address} " in banner, banner  # its address came by DHCP...
    served = leases(world.cloud.nodes[0].data_dir, world.net.id)  # ...from the network node
    assert f"{port.mac_address} {address} " in served
    ok = "3 packets transmitted, 3 packets received, 0% packet loss"
    assert _line(report, "vx-peer") == f"vx-peer {ok}", report
    # Through the router on the network node and back (hairpin NAT), and its metadata through
    # the router's proxy there (its own).
    assert _line(report, "vx-fip") == f"vx-fip {ok}", report
    assert server.id in _line(report, "vx-md"), report
    assert _line(report, "vx-mtu").startswith(
        f"vx-mtu {conn.network.get_network(world.net.id).mtu} "
    )
    (bound,) = list(conn.network.ports(device_id=server.id))
    assert bound.status == "ACTIVE" and bound.binding_host_id == host_of(conn, server.id)


def test_each_node_tunnels_from_its_own_address(world: World) -> None:
    """Each node's VXLAN device is in its dataplane namespace with the node's address as
    its source (its UDP socket in the node's namespace, where that address is), flooding
    entries point at the other nodes' addresses (the router's interface at the network
    node's), and nothing of the dataplane is in a node's own namespace or the root's."""
    hosts = world.cloud.hosts
    assert hosts is not None
    vni = world.conn.network.get_network(world.net.id).provider_segmentation_id
    assert vni
    address = {h.name: h.address for h in hosts.hosts}
    nodea, nodeb = world.cloud.nodes[1:]
    for host, node in zip(hosts.hosts, world.cloud.nodes, strict=True):
        device = _vxlan(node, host.dataplane, vni)
        assert device["linkinfo"]["info_data"]["local"] == host.address
        assert _links(node) == ["lo", "eth0"]
        assert names.bridge(world.net.id) in _links(node, host.dataplane)
    assert _fdb(nodea, hosts.hosts[1].dataplane, vni) >= {
        (world.ports[1].mac_address, address["nodeb"]),
        (world.router_port.mac_address, address["controller"]),
    }
    assert _fdb(nodeb, hosts.hosts[2].dataplane, vni) >= {
        (world.ports[0].mac_address, address["nodea"])
    }
    assert_not_in_root(
        names.vxlan(vni), names.bridge(world.net.id), *(names.tap(p.id) for p in world.ports)
    )


def test_a_guest_cold_migrated_to_the_other_node_keeps_its_network(world: World) -> None:
    """The guest on nodeb moves to nodea (cold): its port is bound there, nodeb's tap goes,
    and booted on nodea it gets its address again from the network node, reaches its peer,
    its floating IP and its metadata."""
    conn, hosts, mover = world.conn, world.cloud.hosts, world.servers[1]
    assert hosts is not None
    console = str(conn.compute.get_server_console_output(mover)["output"])
    before = frozenset(_boots(console))
    assert before
    world.cloud.nodes[0].cli(
        "--os-compute-api-version", "2.56", "server", "migrate", "--host", "nodea", mover.id
    )
    assert conn.compute.wait_for_server(mover, status="VERIFY_RESIZE", wait=BOOT_TIMEOUT)
    conn.compute.confirm_server_resize(mover)
    conn.compute.wait_for_server(mover, status="ACTIVE", wait=BOOT_TIMEOUT)
    assert host_of(conn, mover.id) == "nodea"
    report = _report(world, mover, before)
    _reports_its_network(world, report, mover, world.ports[1], G2)
    nodea, nodeb = world.cloud.nodes[1:]
    assert names.tap(world.ports[1].id) in _links(nodea, hosts.hosts[1].dataplane)
    deadline = time.monotonic() + 15  # nodeb's agent drops it on its next pass
    while names.tap(world.ports[1].id) in _links(nodeb, hosts.hosts[2].dataplane):
        assert time.monotonic() < deadline, "the tap stayed on the node the guest left"
        time.sleep(1)
