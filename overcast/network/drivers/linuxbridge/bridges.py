"""Layer 2 inside the dataplane namespace: one bridge per network (MTU, admin state), a VXLAN
device on it for VXLAN networks with unicast flooding entries for the other hosts (as
Neutron's l2population keeps them: no multicast), and each guest port's tap on its bridge.
A flat network's bridge has the interface its physnet maps to (`physical_interface_mappings`,
as Neutron's Linux-bridge agent has them) as its uplink, or none; local (and VLAN, where the
kernel has 802.1q) networks are a bridge with no uplink. An uplink is the operator's: it is
never made or removed here, only put on its bridge.

Called by the driver (`apply` for a whole host, `wire_network`/`wire_tap` for one port).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pyroute2 import NetlinkError

from overcast.common import log
from overcast.common import netns as common_netns
from overcast.common.config import LinuxBridgeSettings
from overcast.network import drivers
from overcast.network.drivers import DriverError
from overcast.network.drivers.linuxbridge import names, netns

LOG = log.get(__name__)
VXLAN_PORT = 4789
FLOOD = "00:00:00:00:00:00"
_KINDS = {names.BRIDGE: "bridge", names.VXLAN: "vxlan", names.TAP: "tun"}


def vxlan_id(network: drivers.Network) -> int | None:
    for segment in network.segments:
        if segment.network_type == "vxlan" and segment.segmentation_id:
            return segment.segmentation_id
    return None


async def _index(ip: Any, name: str) -> int:
    found = await ip.link_lookup(ifname=name)
    if not found:
        raise DriverError(f"{name} is missing")
    return int(found[0])


def uplink(network: drivers.Network, config: LinuxBridgeSettings) -> str | None:
    """The interface a flat network's bridge is joined to, if its physnet is mapped."""
    for segment in network.segments:
        if segment.network_type == "flat" and segment.physical_network:
            return config.physical_interface_mappings.get(segment.physical_network)
    return None


async def wire_network(
    ip: Any, network: drivers.Network, config: LinuxBridgeSettings, present: dict[str, Any]
) -> None:
    """The network's bridge (and its uplink, or VXLAN device with its flooding entries) as
    desired. A mapped uplink that is missing leaves the bridge without one (and says so)."""
    bridge = names.bridge(network.id)
    state = "up" if network.admin_state_up else "down"
    try:
        if bridge not in present:
            await ip.link("add", ifname=bridge, kind="bridge")
        await ip.link("set", ifname=bridge, mtu=network.mtu, state=state)
        wanted = uplink(network, config)
        if wanted is not None and wanted not in present:
            LOG.warning("network %s: its uplink %s is not in the namespace", network.id, wanted)
        elif wanted is not None:
            await ip.link("set", ifname=wanted, master=await _index(ip, bridge), state="up")
        vni = vxlan_id(network)
        if vni is None:
            return
        device = names.vxlan(vni)
        if device in present and _local(present[device]) != config.local_ip:
            await netns.delete_link(ip, device)  # made before local_ip changed
            present.pop(device)
        if device not in present:
            await _make_vxlan(ip, device, vni, config)
        master = await _index(ip, bridge)
        await ip.link("set", ifname=device, master=master, mtu=network.mtu, state=state)
        await _flood_entries(ip, await _index(ip, device), network.peers)
    except NetlinkError as exc:
        raise DriverError(f"network {network.id}: {exc}") from exc


def _local(link: Any) -> str | None:
    return link.get_nested("IFLA_LINKINFO", "IFLA_INFO_DATA", "IFLA_VXLAN_LOCAL")  # type: ignore[no-any-return]


async def _make_vxlan(ip: Any, device: str, vni: int, config: LinuxBridgeSettings) -> None:
    """A VXLAN device in the dataplane namespace (`ip`'s). Its UDP socket is where `local_ip`
    is: on an interface of the dataplane namespace, or else this host's own namespace (the
    agent's), so tunnels leave by the host's own address while the device, the bridges and
    the guests stay in the dataplane namespace and nothing is added to the host's links."""
    spec = {
        "ifname": device, "kind": "vxlan", "vxlan_id": vni, "vxlan_port": VXLAN_PORT,
        "vxlan_learning": 0,
    }  # fmt: skip
    if not config.local_ip:
        await ip.link("add", **spec)
        return
    spec["vxlan_local"] = config.local_ip
    inside = {a.get("IFA_ADDRESS") for a in await ip.addr("dump")}
    if config.local_ip in inside:
        await ip.link("add", **spec)
        return
    async with netns.ipr(None) as host:  # made from the host's namespace, straight into ours
        await host.link("add", net_ns_fd=config.namespace, **spec)


async def _flood_entries(ip: Any, index: int, peers: tuple[tuple[str, str], ...]) -> None:
    """Unicast FDB entries on a VXLAN device: each remote port's MAC to its host's tunnel
    address, and one all-zero (flooding) entry per remote host; stale ones go."""
    wanted = {(mac, dst) for mac, dst in peers} | {(FLOOD, dst) for _, dst in peers}
    have = set()
    for entry in await ip.fdb("dump", ifindex=index):
        if entry.get("ifindex") == index and entry.get("dst"):
            have.add((entry.get("lladdr"), entry.get("dst")))
    for mac, dst in sorted(have - wanted):
        await ip.fdb("del", ifindex=index, lladdr=mac, dst=dst)
    for mac, dst in sorted(wanted - have):
        await ip.fdb("append", ifindex=index, lladdr=mac, dst=dst)


async def wire_tap(
    ip: Any, namespace: str, port: drivers.Port, network: drivers.Network, present: dict[str, Any]
) -> bool:
    """The port's tap (made persistent here if QEMU has not opened it yet) on its bridge, with
    the network's MTU, up if the port is. True when it carries traffic."""
    tap = names.tap(port.id)
    try:
        if tap not in present:
            await asyncio.to_thread(common_netns.make_tap, namespace, tap)
        master = await _index(ip, names.bridge(network.id))
        state = "up" if port.admin_state_up else "down"
        await ip.link("set", ifname=tap, master=master, mtu=network.mtu, state=state)
    except (NetlinkError, OSError) as exc:
        raise DriverError(f"port {port.id}: {exc}") from exc
    return port.admin_state_up and network.admin_state_up


def owned(name: str, link: Any) -> bool:
    """A link this module made (by prefix and kind)."""
    for prefix, kind in _KINDS.items():
        if name.startswith(prefix) and netns.kind(link) == kind:
            return True
    return False
