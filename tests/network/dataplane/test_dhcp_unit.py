"""The linuxbridge driver's DHCP against the real kernel and dnsmasq, in namespaces of the
test's own: a client namespace on the network's bridge gets its port's address and options
from pyroute2's DHCP client; a port bound later is served after a reload (same dnsmasq), and so
are many ports bound together (the fast path's batch); cleanup leaves no namespace, process or
file."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from overcast.common import config
from overcast.network import drivers
from overcast.network.drivers.linuxbridge import LinuxBridgeDriver, names, netns, nft, nsexec
from tests.network.dataplane.test_l2_unit import Recorder, ns_links, root_links

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces)"),
    # One worker: the tests share a network id, and so its DHCP namespace's name.
    pytest.mark.xdist_group("dhcp-unit"),
]

# The network's id names its DHCP namespace, which is the host's: this run's own, so that runs
# side by side (`make test` runs its database suites beside each other) never share one.
NET = str(uuid.uuid4())
SUBNET = drivers.Subnet(
    id="5b5b5b5b-0000-4000-8000-000000000005", cidr="10.9.0.0/24", ip_version=4,
    gateway_ip="10.9.0.1", enable_dhcp=True, dns_nameservers=("192.0.2.53",),
    host_routes=(("198.51.100.0/24", "10.9.0.9"),),
)  # fmt: skip
NETWORK = drivers.Network(
    id=NET, mtu=1400, admin_state_up=True, segments=(drivers.Segment("vxlan", None, 99),),
    subnets=(SUBNET,),
)  # fmt: skip


def port(
    port_id: str, mac: str, address: str, owner: str = "compute:nova", **extra: Any
) -> drivers.Port:
    return drivers.Port(
        id=port_id, network_id=NET, mac_address=mac, fixed_ips=((SUBNET.id, address),),
        admin_state_up=True, device_owner=owner, device_id="d", vif_type="bridge", **extra,
    )  # fmt: skip


DHCP_PORT = port(
    "dddddddd-0000-4000-8000-00000000000d", "fa:16:3e:00:0d:0d", "10.9.0.2", "network:dhcp"
)
GUEST_1 = port("eeeeeeee-0000-4000-8000-00000000000e", "fa:16:3e:00:0e:0e", "10.9.0.5")
GUEST_2 = port("ffffffff-0000-4000-8000-00000000000f", "fa:16:3e:00:0f:0f", "10.9.0.6")
GUEST_3 = port(
    "abababab-0000-4000-8000-00000000000a", "fa:16:3e:00:0a:0a", "10.9.0.7",
    extra_dhcp_opts=(("domain-search", "example.org"), ("119", None)), dns_name="web",
)  # fmt: skip


@pytest.fixture
async def dataplane(tmp_path: Path) -> AsyncIterator[tuple[LinuxBridgeDriver, Recorder]]:
    before = root_links()
    settings = config.Settings(data_dir=tmp_path)
    settings.network.linuxbridge.namespace = f"ocl2d{os.getpid()}"
    recorder = Recorder()
    driver = LinuxBridgeDriver(settings, recorder)
    await driver.start()
    yield driver, recorder
    await driver.cleanup()
    for name in netns.listing():
        if name.startswith(f"ocl2c{os.getpid()}"):
            await netns.delete(name)
    assert names.dhcp_namespace(NET) not in netns.listing()
    assert not netns.exists(settings.network.linuxbridge.namespace)
    assert root_links() == before


async def client(driver: LinuxBridgeDriver, guest: drivers.Port, tmp: Path) -> dict[str, Any]:
    """A namespace standing for the guest, on the network's bridge with the port's MAC, and
    the lease a DHCP client gets there."""
    name = f"ocl2c{os.getpid()}{guest.id[0]}"
    await netns.ensure(name)
    async with netns.ipr(driver.namespace) as ip:
        await netns.veth(ip, f"ocz{guest.id[:8]}", name, "eth0")
        bridge = (await ip.link_lookup(ifname=names.bridge(NET)))[0]
        await ip.link("set", ifname=f"ocz{guest.id[:8]}", master=bridge, state="up")
    async with netns.ipr(name) as ip:
        await ip.link("set", ifname="eth0", address=guest.mac_address, state="up")
    work = tmp / guest.id
    work.mkdir()
    proc = await asyncio.create_subprocess_exec(
        "nsenter", f"--net=/run/netns/{name}", sys.executable, "-m", "pyroute2.dhcp.cli",
        "--disable-hooks", "-x", "20", "eth0", cwd=work,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(proc.communicate(), 40)
    leases = list(work.glob("*.json"))
    assert leases, output.decode()
    return json.loads(leases[0].read_text())  # type: ignore[no-any-return]


def read(path: Path) -> str:
    return path.read_text()


def dnsmasq_alive(pid: int) -> bool:
    try:
        return b"dnsmasq" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def dnsmasq_pid(driver: LinuxBridgeDriver) -> int:
    return int((driver.settings.data_dir / "network" / "dhcp" / NET / "pid").read_text())


async def test_guests_get_their_addresses_and_options(
    dataplane: tuple[LinuxBridgeDriver, Recorder], tmp_path: Path
) -> None:
    driver, recorder = dataplane
    state = drivers.HostState(
        host="h", networks=(NETWORK,), ports=(DHCP_PORT, GUEST_1),
        dhcp_clients=(DHCP_PORT, GUEST_1),
    )  # fmt: skip
    await driver.apply(state)
    assert recorder.status[DHCP_PORT.id] == "ACTIVE"
    pid = dnsmasq_pid(driver)
    lease = await client(driver, GUEST_1, tmp_path)
    ack = lease["ack"]
    assert ack["yiaddr"] == "10.9.0.5"
    options = ack["options"]
    assert options["router"] == ["10.9.0.1"] and options["name_server"] == ["192.0.2.53"]
    # The MTU comes unasked (this client does not request option 26, nor does busybox's).
    assert options["interface_mtu"] == 1400

    await driver.apply(state)  # idempotent: the same dnsmasq
    assert dnsmasq_pid(driver) == pid

    # Its namespace removed under it (dnsmasq keeps the old one alive): the next pass makes
    # the namespace, its interface and its dnsmasq again.
    await netns.delete(names.dhcp_namespace(NET))
    await driver.apply(state)
    assert recorder.status[DHCP_PORT.id] == "ACTIVE"
    assert not dnsmasq_alive(pid) and dnsmasq_pid(driver) != pid
    pid = dnsmasq_pid(driver)

    # A port bound later: served after a reload, not a restart.
    await driver.bind_port(GUEST_2, NETWORK, ())
    assert dnsmasq_pid(driver) == pid
    assert (await client(driver, GUEST_2, tmp_path))["ack"]["yiaddr"] == "10.9.0.6"

    # Extra DHCP options tag the port's entry; such files are reloaded by a restart (dnsmasq
    # 2.90 dies on SIGHUP with tags once a lease exists), after which leases still come.
    await driver.bind_port(GUEST_3, NETWORK, ())
    where = driver.settings.data_dir / "network" / "dhcp" / NET
    hosts, opts = read(where / "hosts"), read(where / "opts")
    assert f"fa:16:3e:00:0a:0a,web,10.9.0.7,set:port-{GUEST_3.id}" in hosts
    assert f"tag:port-{GUEST_3.id},option:domain-search,example.org" in opts
    assert "option:classless-static-route,198.51.100.0/24,10.9.0.9," in opts
    assert ",0.0.0.0/0,10.9.0.1\n" in opts
    assert dnsmasq_pid(driver) != pid
    assert (await client(driver, GUEST_3, tmp_path))["ack"]["yiaddr"] == "10.9.0.7"
    pid = dnsmasq_pid(driver)

    # The DHCP port leaving takes its namespace and dnsmasq with it.
    await driver.apply(drivers.HostState(host="h", networks=(NETWORK,), ports=(GUEST_1,)))
    assert names.dhcp_namespace(NET) not in netns.listing()
    assert not dnsmasq_alive(pid)


V6 = drivers.Subnet(
    id="6c6c6c6c-0000-4000-8000-000000000006", cidr="2001:db8:9::/64", ip_version=6,
    gateway_ip="2001:db8:9::1", enable_dhcp=True, ipv6_ra_mode="slaac",
    ipv6_address_mode="slaac",
)  # fmt: skip


async def test_slaac_subnets_get_router_advertisements(
    dataplane: tuple[LinuxBridgeDriver, Recorder], tmp_path: Path
) -> None:
    """dnsmasq advertises a SLAAC subnet's prefix: a client on the bridge configures an
    address in it by itself (the kernel's SLAAC), with no DHCPv6 exchange."""
    driver, recorder = dataplane
    network = drivers.Network(
        id=NET, mtu=1400, admin_state_up=True, segments=NETWORK.segments, subnets=(SUBNET, V6)
    )
    dhcp_port = drivers.Port(
        id=DHCP_PORT.id, network_id=NET, mac_address=DHCP_PORT.mac_address,
        fixed_ips=((SUBNET.id, "10.9.0.2"), (V6.id, "2001:db8:9::2")), admin_state_up=True,
        device_owner="network:dhcp", device_id="d", vif_type="bridge",
    )  # fmt: skip
    await driver.apply(
        drivers.HostState(host="h", networks=(network,), ports=(dhcp_port,), dhcp_clients=())
    )
    assert recorder.status[DHCP_PORT.id] == "ACTIVE"
    name = f"ocl2c{os.getpid()}6"
    await netns.ensure(name)
    async with netns.ipr(driver.namespace) as ip:
        await netns.veth(ip, "oczslaac", name, "eth0")
        bridge = (await ip.link_lookup(ifname=names.bridge(NET)))[0]
        await ip.link("set", ifname="oczslaac", master=bridge, state="up")
    async with netns.ipr(name) as ip:
        await ip.link("set", ifname="eth0", address="fa:16:3e:00:66:66", state="up")
        found: list[str] = []
        for attempt in range(300):
            if attempt in (50, 150):  # solicit again (as a host's later solicitations would):
                # the first may come before dnsmasq can advertise (its address still tentative)
                await ip.link("set", ifname="eth0", state="down")
                await ip.link("set", ifname="eth0", state="up")
            index = (await ip.link_lookup(ifname="eth0"))[0]
            found = [
                m.get("IFA_ADDRESS")
                for m in await ip.addr("dump", index=index, family=socket.AF_INET6)
                if m.get("IFA_ADDRESS", "").startswith("2001:db8:9:")
            ]
            if found:
                break
            await asyncio.sleep(0.2)
    assert found == ["2001:db8:9:0:f816:3eff:fe00:6666"]


async def test_ports_changed_together_go_in_one_batch(
    dataplane: tuple[LinuxBridgeDriver, Recorder], tmp_path: Path, monkeypatch: Any
) -> None:
    """`apply_ports` (the agent's fast path for ports that changed together): 30 ports wired,
    filtered in one nftables transaction, given their DHCP entries by one reload (the same
    dnsmasq) and reported up; then a batch that drops ten of them and changes one."""
    driver, recorder = dataplane
    await driver.apply(
        drivers.HostState(host="h", networks=(NETWORK,), ports=(DHCP_PORT,), dhcp_clients=())
    )
    pid = dnsmasq_pid(driver)
    group = drivers.SecurityGroup("9a9a9a9a-0000-4000-8000-000000000009", True, (), ())
    many = [
        port(f"{i:08x}-1111-4000-8000-000000000000", f"fa:16:3e:01:00:{i:02x}", f"10.9.0.{20 + i}",
             security_groups=(group.id,))
        for i in range(30)
    ]  # fmt: skip
    transactions = []
    run = nsexec.run

    async def counting(namespace: str, argv: list[str], **kwargs: Any) -> str:
        if argv[:2] == ["nft", "-f"]:
            transactions.append(argv)
        return await run(namespace, argv, **kwargs)

    monkeypatch.setattr(nsexec, "run", counting)
    await driver.apply_ports(
        drivers.Batch(ports=tuple((p, NETWORK) for p in many), security_groups=(group,))
    )
    assert len(transactions) == 1
    assert all(recorder.status[p.id] == "ACTIVE" for p in many)
    links = await ns_links(driver.namespace)
    bridge = links[names.bridge(NET)]["index"]
    assert all(links[names.tap(p.id)].get("master") == bridge for p in many)
    ruleset = await nft.ruleset(driver.namespace, "bridge", names.NFT_TABLE)
    assert all(f'"{names.tap(p.id)}"' in ruleset for p in many)
    hosts = read(driver.settings.data_dir / "network" / "dhcp" / NET / "hosts")
    assert all(f"{p.mac_address},host-10-9-0-{20 + i},10.9.0.{20 + i}" in hosts
               for i, p in enumerate(many))  # fmt: skip
    assert dnsmasq_pid(driver) == pid
    assert (await client(driver, many[7], tmp_path))["ack"]["yiaddr"] == "10.9.0.27"

    moved = dataclasses.replace(many[0], admin_state_up=False)
    gone = tuple(p.id for p in many[20:])
    await driver.apply_ports(
        drivers.Batch(ports=((moved, NETWORK),), security_groups=(group,), gone=gone)
    )
    assert len(transactions) == 2
    links = await ns_links(driver.namespace)
    assert not any(names.tap(port_id) in links for port_id in gone)
    assert all(recorder.status[port_id] == "DOWN" for port_id in gone)
    assert recorder.status[moved.id] == "DOWN"
    ruleset = await nft.ruleset(driver.namespace, "bridge", names.NFT_TABLE)
    assert not any(f'"{names.tap(port_id)}"' in ruleset for port_id in gone)
    assert f'"{names.tap(many[19].id)}"' in ruleset
