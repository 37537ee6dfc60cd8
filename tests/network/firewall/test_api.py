"""Security groups through the real API and agent with the `linuxbridge` driver (in a
dataplane namespace of the test's): a port bound to the host goes ACTIVE filtered, and rule
and membership changes reach its host's tables through the API's `security_groups_changed`
fanout, not the periodic pass (set to an hour here)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import openstack
import pytest

from overcast.network.drivers.linuxbridge import sgrules
from tests.helpers.server import Server
from tests.network.dataplane.conftest import dhcp_namespaces, dnsmasq_pids
from tests.network.firewall.conftest import sh


@pytest.fixture
def cloud(start_server: Callable[..., Server]) -> Iterator[tuple[openstack.connection.Connection, str]]:  # fmt: skip
    namespace = f"ocfwapi{uuid.uuid4().hex[:6]}"
    env = {
        "OVERCAST_NETWORK__DRIVER": "linuxbridge",
        "OVERCAST_NETWORK__LINUXBRIDGE__NAMESPACE": namespace,
        "OVERCAST_NETWORK__REPORT_INTERVAL": "3600",
        "OVERCAST_NETWORK__AGENT_DOWN_TIME": "7200",
        # No public/private/router1: their router namespace and dnsmasq would outlive the test.
        "OVERCAST_NETWORK__BOOTSTRAP": "false",
    }
    srv = start_server(env)
    try:
        yield srv.connect("overcast"), namespace
    finally:
        srv.stop()
        # A network's dnsmasq outlives a stop by design.
        for pid in dnsmasq_pids(srv.data_dir):
            os.kill(pid, 9)
        for name in [*dhcp_namespaces(srv.data_dir), namespace]:
            sh("ip", "netns", "del", name, check=False)


def nft(namespace: str, *what: str) -> str:
    return sh("ip", "netns", "exec", namespace, "nft", "list", *what, check=False)


def eventually(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def bound_port(conn: openstack.connection.Connection, net: Any, groups: list[str]) -> Any:
    host = next(a.host for a in conn.network.agents() if a.agent_type == "Linux bridge agent")
    return conn.network.create_port(
        network_id=net.id,
        security_group_ids=groups,
        binding_host_id=host,
        device_owner="compute:test",
        device_id=str(uuid.uuid4()),
    )


def test_rules_and_members_reach_the_host_at_once(
    cloud: tuple[openstack.connection.Connection, str],
) -> None:
    conn, namespace = cloud
    net = conn.network.create_network(name="fw")
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.88.0.0/24", is_dhcp_enabled=False)  # fmt: skip
    web = conn.network.create_security_group(name="web")
    friends = conn.network.create_security_group(name="friends")
    port = bound_port(conn, net, [web.id])
    eventually(lambda: conn.network.get_port(port.id).status == "ACTIVE", "port ACTIVE")
    ingress = f"gi_{web.id.replace('-', '')}"
    chain = f"pi_{port.id.replace('-', '')}"
    assert f"jump {ingress}" in nft(namespace, "chain", "bridge", "overcast", chain)

    rule = conn.network.create_security_group_rule(
        security_group_id=web.id, direction="ingress", protocol="tcp",
        port_range_min=8080, port_range_max=8080, remote_group_id=friends.id,
    )  # fmt: skip
    members = sgrules.set_name(friends.id, 4)
    eventually(
        lambda: "8080" in nft(namespace, "chain", "bridge", "overcast", ingress),
        "the new rule in the port's group chain",
    )
    assert "elements" not in nft(namespace, "set", "bridge", "overcast", members)

    friend = bound_port(conn, net, [friends.id])
    address = friend.fixed_ips[0]["ip_address"]
    eventually(
        lambda: address in nft(namespace, "set", "bridge", "overcast", members),
        "the new member in the remote group's set",
    )
    conn.network.delete_port(friend.id)
    eventually(
        lambda: address not in nft(namespace, "set", "bridge", "overcast", members),
        "the member gone from the set",
    )
    conn.network.delete_security_group_rule(rule.id)
    eventually(
        lambda: "8080" not in nft(namespace, "chain", "bridge", "overcast", ingress),
        "the rule gone",
    )
    conn.network.delete_port(port.id)
    eventually(
        lambda: chain not in nft(namespace, "table", "bridge", "overcast"), "the port's chains gone"
    )
