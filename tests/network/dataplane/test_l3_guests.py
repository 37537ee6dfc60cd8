"""Routers, floating IPs and the metadata proxy with real guests (QEMU under TCG) on a cloud
running the linuxbridge dataplane (the shared `dataplane_cloud`). An "outside" namespace on the
external network's bridge plays the world: it reaches the guest's SSH port through its floating
IP only while a security-group rule allows it (also across a restart of Overcast), and through a
port forwarding; the guest's own traffic reaches it from the router's gateway address; the guest
reads its metadata and user data from 169.254.169.254 and cannot get another instance's by
forging the identity header. A router's extra routes set through the API appear in its namespace
and go when unset."""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pyroute2 import IPRoute, netns

from overcast.network.drivers.linuxbridge import names, nat, nft
from tests.compute.qemu.conftest import BANNER
from tests.network.dataplane import nsnet
from tests.network.dataplane.conftest import DataplaneCloud

pytestmark = pytest.mark.xdist_group("dataplane")  # one worker, one dataplane cloud
OUTSIDE = "203.0.113.250"
LISTEN = 7000
# Run by the guest after boot (its user data): the forged metadata request, then a connection
# out to the outside namespace (retried until the router and the listener are there).
SCRIPT = """#!/bin/sh
got=$(wget -q -O - --header "X-Instance-ID: {other}" http://169.254.169.254/openstack/latest/meta_data.json)
echo "forged-result: $(echo "$got" | tr -d '\\n' | sed -n 's/.*"uuid": *"\\([^"]*\\)".*/\\1/p')"
for i in $(seq 60); do echo hello | nc {outside} {port} && break; sleep 2; done
echo "outbound-done"
"""


def _wait(check: Any, timeout: float = 120, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what or check}")


@dataclass
class L3:
    cloud: DataplaneCloud
    public: Any  # the external network, 203.0.113.0/24
    private: Any  # a project network behind `router`
    router: Any
    outside: str  # the outside world's namespace, 203.0.113.250 on the external bridge


@pytest.fixture(scope="module")
def l3(dataplane_cloud: DataplaneCloud) -> Iterator[L3]:
    """An external network, a router with its gateway there and a network behind it, and the
    outside world on the external network's bridge; all removed at the end."""
    cloud = dataplane_cloud
    admin = cloud.conn
    public = admin.network.create_network(
        name=nsnet.unique("ext"), is_router_external=True,
        provider_network_type="flat", provider_physical_network="public",
    )  # fmt: skip
    admin.network.create_subnet(
        network_id=public.id, ip_version=4, cidr="203.0.113.0/24", gateway_ip="203.0.113.1",
        allocation_pools=[{"start": "203.0.113.10", "end": "203.0.113.200"}], is_dhcp_enabled=False,
    )  # fmt: skip
    private, subnet = cloud.network(admin, nsnet.unique("l3"), "10.70.0.0/24")
    router = admin.network.create_router(
        name=nsnet.unique("r"), external_gateway_info={"network_id": public.id}
    )
    admin.network.add_interface_to_router(router, subnet=subnet.id)
    bridge = names.bridge(public.id)
    _wait(lambda: bridge in _links(cloud.namespace), 60, f"bridge {bridge}")
    made: list[str] = []
    try:
        outside = nsnet.host(made, cloud.namespace, bridge, f"{OUTSIDE}/24", "")
        yield L3(cloud, public, private, admin.network.get_router(router.id), outside)
    finally:
        for name in made:
            nsnet.remove(name)
        for server in admin.compute.servers(all_projects=True):
            admin.compute.delete_server(server)
            admin.compute.wait_for_delete(server, wait=120)
        for fip in admin.network.ips():
            admin.network.delete_ip(fip)
        admin.network.remove_interface_from_router(router, subnet=subnet.id)
        admin.network.delete_router(router)
        for net in (private, public):
            for port in admin.network.ports(network_id=net.id):
                if port.device_owner != "network:dhcp":
                    admin.network.delete_port(port)
            admin.network.delete_network(net)


def _links(namespace: str) -> set[str]:
    if namespace not in netns.listnetns():
        return set()
    with IPRoute(netns=namespace) as ip:
        return {link.get("ifname") for link in ip.get_links()}


def _banner(sock: socket.socket) -> bytes:
    with sock:
        sock.settimeout(20)
        return sock.recv(64)


def _ssh(outside: str, address: str, port: int = 22) -> bytes | None:
    """What answers at address:port from outside (None: nothing)."""
    try:
        return _banner(nsnet.connect(outside, address, port, timeout=3))
    except OSError:
        return None


def test_floating_ip_snat_port_forwarding_and_metadata(l3: L3) -> None:
    qc, conn, outside = l3.cloud, l3.cloud.conn, l3.outside
    private, public, router = l3.private, l3.public, l3.router
    group = conn.network.create_security_group(name=nsnet.unique("ssh"))
    listener = nsnet.listener(outside, LISTEN)
    listener.settimeout(300)

    # The other instance whose identity the guest forges; its id is known before it boots.
    other = qc.boot(nsnet.unique("other"), networks=[{"uuid": private.id}])
    guest = qc.boot(
        nsnet.unique("guest"),
        networks=[{"uuid": private.id}],
        security_groups=[{"name": group.name}],
        user_data=_b64(SCRIPT.format(other=other.id, outside=OUTSIDE, port=LISTEN)),
    )
    guest = qc.wait_status(guest, "ACTIVE")

    # Outbound: SNAT to the router's gateway address.
    gateway_ip = router.external_gateway_info["external_fixed_ips"][0]["ip_address"]
    assert nsnet.peer_of_next(listener) == gateway_ip
    console = qc.wait_console(guest, "outbound-done")
    # Metadata from 169.254.169.254 (no config drive with this dataplane), user data run, and
    # the forged identity ignored: the guest got its own document, not the other's.
    banner = re.search(f"{re.escape(BANNER)}.*", console)
    assert banner and f"instance={guest.id} metadata=metadata-service" in banner[0], console
    assert f"forged-result: {guest.id}" in console, console
    assert other.id not in console

    # A floating IP: the SSH port answers from outside only once a rule allows it.
    (port,) = conn.network.ports(device_id=guest.id)
    fip = conn.network.create_ip(floating_network_id=public.id, port_id=port.id)
    address = fip.floating_ip_address
    namespace = names.router_namespace(router.id)
    _wait(lambda: f"dnat to {port.fixed_ips[0]['ip_address']}" in _nat(namespace), 30, "DNAT")
    assert _ssh(outside, address) is None  # wired, but no rule lets it in
    rule = conn.network.create_security_group_rule(
        security_group_id=group.id, direction="ingress", protocol="tcp",
        port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/0",
    )  # fmt: skip
    answer = _wait(lambda: _ssh(outside, address), 60, "SSH through the floating IP")
    assert answer.startswith(b"SSH-2.0")

    # Restarting Overcast leaves the way in as it was: reached while it is down and once it is
    # back (its start rebuilds only what is missing).
    qc.srv.stop()
    assert (_ssh(outside, address) or b"").startswith(b"SSH-2.0")
    qc.srv.start(timeout=400)
    conn = qc.conn = qc.srv.connect()
    assert (_ssh(outside, address) or b"").startswith(b"SSH-2.0")
    time.sleep(4)  # the agent's first full pass
    assert (_ssh(outside, address) or b"").startswith(b"SSH-2.0")

    # A port forwarding on another floating IP reaches the same port.
    fip2 = conn.network.create_ip(floating_network_id=public.id)
    conn.network.create_port_forwarding(
        floatingip_id=fip2.id, internal_port_id=port.id,
        internal_ip_address=port.fixed_ips[0]["ip_address"], internal_port=22,
        external_port=2222, protocol="tcp",
    )  # fmt: skip
    forwarded = _wait(lambda: _ssh(outside, fip2.floating_ip_address, 2222), 60, "forwarding")
    assert forwarded.startswith(b"SSH-2.0")

    # The rule removed: the floating IP no longer reaches the guest.
    conn.network.delete_security_group_rule(rule)
    _wait(lambda: _ssh(outside, address) is None, 30, "the rule's removal")

    # Disassociated and deleted: nothing of the floating IPs stays in the router.
    conn.network.delete_ip(fip)
    conn.network.delete_ip(fip2)
    gone = (address, fip2.floating_ip_address)
    _wait(lambda: not set(gone) & _addresses(namespace), 30, "the floating IPs' addresses to go")
    # The agent's pass removes the addresses, then replaces the NAT table: wait for both.
    _wait(lambda: not any(a in _nat(namespace) for a in gone), 30, "the floating IPs' rules to go")
    listener.close()


def test_extra_routes_follow_the_api_and_a_removed_router_leaves_nothing(l3: L3) -> None:
    conn, dataplane, public = l3.cloud.conn, l3.cloud.namespace, l3.public
    net = conn.network.create_network(name=nsnet.unique("net"))
    subnet = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.66.0.0/24")
    router = conn.network.create_router(
        name=nsnet.unique("r"), external_gateway_info={"network_id": public.id}
    )
    conn.network.add_interface_to_router(router, subnet=subnet.id)
    namespace = names.router_namespace(router.id)
    _wait(lambda: "10.66.0.1" in _addresses(namespace), 60, "the router's namespace")
    legs = {names.router_peer(p.id) for p in conn.network.ports(device_id=router.id)}
    assert len(legs) == 2 and legs <= _links(dataplane)
    assert (nat.FAMILY, nat.TABLE) in asyncio.run(nft.tables(namespace))
    route = ("10.98.0.0", "10.66.0.7")
    conn.network.update_router(
        router, routes=[{"destination": "10.98.0.0/24", "nexthop": route[1]}]
    )
    _wait(lambda: route in _routes(namespace), 30, "the extra route")
    conn.network.update_router(router, routes=[])
    _wait(lambda: route not in _routes(namespace), 30, "the extra route to go")

    conn.network.remove_interface_from_router(router, subnet=subnet.id)
    conn.network.delete_router(router)
    _wait(lambda: namespace not in netns.listnetns(), 60, "the router's namespace to go")
    assert not legs & _links(dataplane)  # the veth peers went with it
    conn.network.delete_network(net)


def _addresses(namespace: str) -> set[str]:
    if namespace not in netns.listnetns():
        return set()
    with IPRoute(netns=namespace) as ip:
        return {str(a.get("IFA_ADDRESS")) for a in ip.get_addr(family=socket.AF_INET)}


def _routes(namespace: str) -> set[tuple[str, str]]:
    with IPRoute(netns=namespace) as ip:
        return {
            (r.get("RTA_DST"), r.get("RTA_GATEWAY")) for r in ip.get_routes(family=socket.AF_INET)
        }


def _nat(namespace: str) -> str:
    return asyncio.run(nft.ruleset(namespace, nat.FAMILY, nat.TABLE))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_isolated_network_metadata_through_dhcp(l3: L3) -> None:
    """On a network with no router the DHCP namespace serves the metadata, reached by the host
    route DHCP gives (option 121 via the DHCP port)."""
    qc = l3.cloud
    net = qc.conn.network.create_network(name=nsnet.unique("isolated"))
    qc.conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.67.0.0/24")
    guest = qc.boot(
        nsnet.unique("isolated"),
        networks=[{"uuid": net.id}],
        user_data=_b64("#!/bin/sh\necho isolated-user-data-ran\n"),
    )
    guest = qc.wait_status(guest, "ACTIVE")
    console = qc.wait_console(guest, "isolated-user-data-ran")
    banner = re.search(f"{re.escape(BANNER)}.*", console)
    assert banner and f"instance={guest.id} metadata=metadata-service" in banner[0], console
    qc.conn.compute.delete_server(guest)
    qc.conn.compute.wait_for_delete(guest, wait=120)
    qc.conn.network.delete_network(net)
