"""The linuxbridge driver's layer 2 against the real kernel, in namespaces of the test's own:
bridges, taps, VXLAN with l2population entries, orphan removal, cleanup; the root namespace's
links never change. No cloud: the driver is handed desired states directly."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from typing import Any

import pytest

from overcast.common import config
from overcast.common import netns as common_netns
from overcast.network import drivers
from overcast.network.drivers.linuxbridge import LinuxBridgeDriver, names, netns, probe

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces)")

NET_A = "a1a1a1a1-0000-4000-8000-000000000001"
NET_B = "b2b2b2b2-0000-4000-8000-000000000002"
PORT_1 = "11111111-aaaa-4000-8000-000000000001"
PORT_2 = "22222222-bbbb-4000-8000-000000000002"


def root_links() -> list[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
    return sorted(line.split(":")[1].strip() for line in out.stdout.splitlines())


class Recorder:
    def __init__(self) -> None:
        self.status: dict[str, str] = {}

    async def port_up(self, port_id: str) -> None:
        self.status[port_id] = "ACTIVE"

    async def port_down(self, port_id: str) -> None:
        self.status[port_id] = "DOWN"


def network(net_id: str, kind: str, seg: int | None, peers: Any = ()) -> drivers.Network:
    return drivers.Network(
        id=net_id, mtu=1450, admin_state_up=True,
        segments=(drivers.Segment(kind, "public" if kind == "flat" else None, seg),),
        peers=tuple(peers),
    )  # fmt: skip


def port(port_id: str, net_id: str, up: bool = True) -> drivers.Port:
    return drivers.Port(
        id=port_id, network_id=net_id, mac_address="fa:16:3e:00:00:01",
        fixed_ips=(), admin_state_up=up, device_owner="compute:nova", device_id="x",
        vif_type="bridge",
    )  # fmt: skip


def make_driver(namespace: str, local_ip: str | None = None) -> tuple[LinuxBridgeDriver, Recorder]:
    settings = config.Settings()
    settings.network.linuxbridge.namespace = namespace
    settings.network.linuxbridge.local_ip = local_ip
    recorder = Recorder()
    return LinuxBridgeDriver(settings, recorder), recorder


async def ns_links(namespace: str) -> dict[str, Any]:
    async with netns.ipr(namespace) as ip:
        return await netns.links(ip)


@pytest.fixture
def namespace() -> Any:
    name = f"ocl2u{os.getpid()}"
    before = root_links()
    yield name
    asyncio.run(netns.delete(name))
    assert root_links() == before


async def test_drivers_of_one_process_start_at_once_on_one_namespace(namespace: str) -> None:
    """The fake hosts' network agents of one process share the dataplane's namespace and start
    together: each finds it made once, none fails on the other's mount point."""
    made = [make_driver(namespace)[0] for _ in range(4)]
    await asyncio.gather(*(driver.start() for driver in made))
    assert common_netns.exists(namespace)


async def test_bridges_taps_orphans_and_cleanup(namespace: str) -> None:
    driver, recorder = make_driver(namespace)
    await driver.start()
    assert "unsupported" in driver.capabilities.configurations["vlan"] or "vlan" in (
        driver.capabilities.network_types
    )
    state = drivers.HostState(
        host="h",
        networks=(network(NET_A, "vxlan", 77), network(NET_B, "flat", None)),
        ports=(port(PORT_1, NET_A), port(PORT_2, NET_B, up=False)),
    )
    await driver.apply(state)
    links = await ns_links(namespace)
    bridge_a, tap_1 = links[names.bridge(NET_A)], links[names.tap(PORT_1)]
    assert tap_1.get("master") == bridge_a["index"]
    assert links[names.vxlan(77)].get("master") == bridge_a["index"]
    assert tap_1.get("mtu") == 1450 and netns.kind(tap_1) == "tun"
    assert links[names.tap(PORT_2)].get("operstate") == "DOWN"
    assert recorder.status == {PORT_1: "ACTIVE", PORT_2: "DOWN"}
    await driver.apply(state)  # idempotent
    assert set(await ns_links(namespace)) == set(links)

    # Something of ours no resource owns goes; what is not ours stays.
    async with netns.ipr(namespace) as ip:
        await ip.link("add", ifname="ocbdeadbeef00", kind="bridge")
        await ip.link("add", ifname="keepme", kind="bridge")
    await driver.apply(drivers.HostState(host="h", networks=state.networks, ports=state.ports[:1]))
    links = await ns_links(namespace)
    assert "ocbdeadbeef00" not in links and names.tap(PORT_2) not in links
    assert "keepme" in links and names.tap(PORT_1) in links
    assert recorder.status[PORT_1] == "ACTIVE"

    await driver.unbind_port(PORT_1)
    assert names.tap(PORT_1) not in await ns_links(namespace)
    assert recorder.status[PORT_1] == "DOWN"
    await driver.bind_port(port(PORT_1, NET_A), network(NET_A, "vxlan", 77), ())
    assert names.tap(PORT_1) in await ns_links(namespace)
    assert recorder.status[PORT_1] == "ACTIVE"

    await driver.cleanup()
    assert not netns.exists(namespace)


async def test_a_tap_its_guest_opened_first_is_wired(namespace: str) -> None:
    """QEMU may open a port's tap between the agent's look at the links and its binding: the
    agent then finds the tap busy and wires it as it is (it once left it unwired, EBUSY)."""
    driver, recorder = make_driver(namespace)
    await driver.start()
    net = network(NET_A, "vxlan", 78)
    await driver.apply(drivers.HostState(host="h", networks=(net,)))
    fd = common_netns.open_tap(namespace, names.tap(PORT_1))  # the guest's open queue
    try:
        common_netns.make_tap(namespace, names.tap(PORT_1))  # the agent's, looking too late
        await driver.apply_ports(drivers.Batch(ports=((port(PORT_1, NET_A), net),)))
        assert recorder.status[PORT_1] == "ACTIVE"
        tap = (await ns_links(namespace))[names.tap(PORT_1)]
        bridge = (await ns_links(namespace))[names.bridge(NET_A)]
        assert tap.get("master") == bridge["index"]
    finally:
        os.close(fd)
        await driver.cleanup()


async def test_probe_says_whether_the_host_can_run_it() -> None:
    assert await probe.usable() is None


def _reaches(source: str, target: str, address: str) -> bool:
    """A TCP connection from namespace `source` to a listener at `address` in `target`."""
    listener = common_netns.call_in(target, lambda: socket.create_server((address, 7777)))
    try:
        sock = common_netns.call_in(source, socket.socket)
        sock.settimeout(3)
        try:
            sock.connect((address, 7777))
            return True
        except OSError:
            return False
        finally:
            sock.close()
    finally:
        listener.close()


async def reaches(source: str, target: str, address: str) -> bool:
    return await asyncio.to_thread(_reaches, source, target, address)


async def _guest(dataplane: str, bridge: str, name: str, mac: str, address: str) -> None:
    """A namespace standing for a guest: a veth onto `bridge` with the port's MAC."""
    await netns.ensure(name)
    async with netns.ipr(dataplane) as ip:
        await netns.veth(ip, f"ocz{name[-6:]}", name, "eth0")
        index = (await ip.link_lookup(ifname=bridge))[0]
        await ip.link("set", ifname=f"ocz{name[-6:]}", master=index, state="up")
    async with netns.ipr(name) as ip:
        await ip.link("set", ifname="eth0", address=mac, state="up")
        index = (await ip.link_lookup(ifname="eth0"))[0]
        await ip.addr("add", index=index, address=address, prefixlen=24)


async def test_vxlan_carries_a_network_between_two_hosts() -> None:
    """Two namespace "hosts" joined by an underlay veth: each host's VXLAN device floods to
    the other by unicast entries only (no multicast, no learning from the database's peers),
    and guests on either side reach each other; a peer that leaves loses its entries."""
    tag = f"{os.getpid() % 100000:05d}"
    hosts, guests = [f"ocl2h{tag}a", f"ocl2h{tag}b"], [f"ocl2g{tag}a", f"ocl2g{tag}b"]
    before = root_links()
    macs, tunnels = ("fa:16:3e:aa:00:01", "fa:16:3e:bb:00:02"), ("192.0.2.1", "192.0.2.2")
    try:
        drivers_ = [make_driver(hosts[i], tunnels[i])[0] for i in range(2)]
        for driver in drivers_:
            await driver.start()
        async with netns.ipr(hosts[0]) as ip:
            await netns.veth(ip, "ocundera", hosts[1], "ocunderb")
        for i, host in enumerate(hosts):
            async with netns.ipr(host) as ip:
                index = (await ip.link_lookup(ifname="ocunder" + "ab"[i]))[0]
                await ip.link("set", index=index, state="up")
                await ip.addr("add", index=index, address=tunnels[i], prefixlen=24)
        for i, driver in enumerate(drivers_):
            other = 1 - i
            net = network(NET_A, "vxlan", 4242, peers=[(macs[other], tunnels[other])])
            await driver.apply(drivers.HostState(host=hosts[i], networks=(net,)))
            await _guest(hosts[i], names.bridge(NET_A), guests[i], macs[i], f"10.7.0.{i + 1}")
        async with netns.ipr(hosts[0]) as ip:
            index = (await ip.link_lookup(ifname=names.vxlan(4242)))[0]
            fdb = {(e.get("lladdr"), e.get("dst")) for e in await ip.fdb("dump", ifindex=index)}
        assert {(macs[1], tunnels[1]), ("00:00:00:00:00:00", tunnels[1])} <= fdb
        assert await reaches(guests[0], guests[1], "10.7.0.2")

        # The peer's port goes: its entries go, and with them the way across.
        await drivers_[0].apply(
            drivers.HostState(host=hosts[0], networks=(network(NET_A, "vxlan", 4242),))
        )
        async with netns.ipr(hosts[0]) as ip:
            index = (await ip.link_lookup(ifname=names.vxlan(4242)))[0]
            assert not [e for e in await ip.fdb("dump", ifindex=index) if e.get("dst")]
        assert not await reaches(guests[0], guests[1], "10.7.0.2")
    finally:
        for name in hosts + guests:
            await netns.delete(name)
    assert root_links() == before


async def test_a_flat_network_is_bridged_to_its_physnets_interface() -> None:
    """`physical_interface_mappings`: a flat network's bridge gets the interface its physnet
    maps to (the operator's, here a veth into a namespace playing the physical network) as
    its uplink, so a guest on the bridge reaches the outside; a network of another physnet
    gets none; when the network goes the uplink is left to its owner, unbridged."""
    tag = f"{os.getpid() % 100000:05d}"
    dataplane, outside, guest = f"ocl2p{tag}", f"ocl2o{tag}", f"ocl2q{tag}"
    before = root_links()
    driver, _ = make_driver(dataplane)
    driver.config.physical_interface_mappings = {"public": "uplink0", "physnet9": "missing0"}
    try:
        await driver.start()
        await netns.ensure(outside)
        async with netns.ipr(dataplane) as ip:
            await netns.veth(ip, "uplink0", outside, "eth0")
        async with netns.ipr(outside) as ip:
            index = (await ip.link_lookup(ifname="eth0"))[0]
            await ip.link("set", index=index, state="up")
            await ip.addr("add", index=index, address="203.0.113.9", prefixlen=24)
        other = drivers.Network(
            id=NET_B, mtu=1500, admin_state_up=True,
            segments=(drivers.Segment("flat", "physnet9", None),),
        )  # fmt: skip
        await driver.apply(
            drivers.HostState(host="h", networks=(network(NET_A, "flat", None), other))
        )
        links = await ns_links(dataplane)
        assert links["uplink0"].get("master") == links[names.bridge(NET_A)]["index"]
        assert names.bridge(NET_B) in links  # its uplink is missing: a bridge without one
        await _guest(dataplane, names.bridge(NET_A), guest, "fa:16:3e:00:00:09", "203.0.113.5")
        assert await reaches(guest, outside, "203.0.113.9")

        await driver.apply(drivers.HostState(host="h"))
        links = await ns_links(dataplane)
        assert names.bridge(NET_A) not in links and not links["uplink0"].get("master")
    finally:
        for name in (dataplane, outside, guest):
            await netns.delete(name)
    assert root_links() == before
