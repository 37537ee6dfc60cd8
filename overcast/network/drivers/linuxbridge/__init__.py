"""The `linuxbridge` dataplane driver: Neutron's Linux-bridge, DHCP and L3 agents' work done
inside namespaces Overcast owns, so the root namespace is never changed. Every bridge, tap
and VXLAN device lives in one dataplane namespace (`network.linuxbridge.namespace`, `ocdp`);
guests' taps are opened there by compute's QEMU driver and handed to QEMU by fd.

`apply` filters the ports first (`firewall`: a tap is never on its bridge unguarded), wires
layer 2 (`bridges`), then hands the desired state to each `Part` (DHCP, routers) and only then
reports ports up, so a port is ACTIVE once all of it is in. `apply_ports` does the same for the
ports that changed together (the agent's fast path), each step once for all of them. Names
come from `names`. Loaded by `drivers.load("linuxbridge")` in the network agent.
"""

from __future__ import annotations

from typing import Any, Protocol

from overcast.common import log
from overcast.common.config import LinuxBridgeSettings, Settings
from overcast.network.drivers import (
    Batch,
    Callbacks,
    Capabilities,
    Driver,
    DriverError,
    HostState,
    Network,
    Port,
    SecurityGroup,
)
from overcast.network.drivers.linuxbridge import bridges, dhcp, firewall, l3, names, netns, probe

LOG = log.get(__name__)


class Part(Protocol):
    """One more piece of the dataplane (DHCP, routers), run after layer 2."""

    async def apply(self, desired: HostState) -> None:
        """Make this part match `desired` whole, removing what it made that is not there."""

    async def apply_ports(self, batch: Batch) -> None:
        """Ports that changed (their networks' layer 2 is wired); unknown gone ones are fine."""


def capabilities(config: LinuxBridgeSettings, vlan: bool) -> Capabilities:
    namespace = config.namespace
    return Capabilities(
        agent_type="Linux bridge agent",
        binary="overcast-linuxbridge-agent",
        vif_type="bridge",
        vif_details={
            "connectivity": "l2",
            "port_filter": True,
            "bridge_name": "ocb{network_id:.11}",
            "devname": "oct{port_id:.11}",
            "namespace": namespace,
        },
        network_types=("flat", "vxlan", "local") + (("vlan",) if vlan else ()),
        dhcp=True,
        l3=True,
        configurations={
            "namespace": namespace,
            "tunnel_types": ["vxlan"],
            "tunneling_ip": config.local_ip,
            "interface_mappings": dict(config.physical_interface_mappings),
            "l2_population": True,
            "vlan": "supported" if vlan else "unsupported: this kernel lacks 802.1q",
        },
    )


def guest_port(port: Port) -> bool:
    """A port with a tap (an instance's), not one of the dataplane's own (DHCP, routers)."""
    return not port.device_owner.startswith("network:")


class LinuxBridgeDriver(Driver):
    def __init__(self, settings: Settings, callbacks: Callbacks) -> None:
        super().__init__(settings, callbacks)
        self.config = settings.network.linuxbridge
        self.namespace = self.config.namespace
        self.capabilities = capabilities(self.config, vlan=False)
        # The firewall acts before layer 2 (its rules name taps, which need not exist yet), so
        # no tap is ever on its bridge unguarded; DHCP and routers after it, in this order.
        self.firewall = firewall.Firewall(self.namespace)
        self.l3 = l3.L3(self)
        self.parts: list[Part] = [dhcp.Dhcp(self), self.l3]
        self.wired: set[str] = set()  # guest ports with a tap made or kept by this run

    async def start(self) -> None:
        await netns.ensure(self.namespace)
        vlan = await probe.vlan(self.namespace)
        self.capabilities = capabilities(self.config, vlan)
        LOG.info(
            "linuxbridge dataplane in namespace %s (802.1q %s)",
            self.namespace,
            "available" if vlan else "missing",
        )

    async def stop(self) -> None:
        await self.l3.stop()

    async def apply(self, desired: HostState) -> None:
        await netns.ensure(self.namespace)
        await self.firewall.apply(desired)
        async with netns.ipr(self.namespace) as ip:
            present = await netns.links(ip)
            keep: set[str] = set()
            for network in desired.networks:
                await bridges.wire_network(ip, network, self.config, present)
                keep.add(names.bridge(network.id))
                vni = bridges.vxlan_id(network)
                if vni is not None:
                    keep.add(names.vxlan(vni))
            status = await self._wire_taps(ip, desired, present)
            keep.update(names.tap(port_id) for port_id in status)
            for name, link in present.items():
                if bridges.owned(name, link) and name not in keep:
                    await netns.delete_link(ip, name)
        for part in self.parts:
            await part.apply(desired)
        for port_id in self.wired - set(status):
            await self.callbacks.port_down(port_id)
        self.wired = set(status)
        for port_id, wired in status.items():
            if wired:
                await self.callbacks.port_up(port_id)
            else:
                await self.callbacks.port_down(port_id)

    async def _wire_taps(
        self, ip: Any, desired: HostState, present: dict[str, Any]
    ) -> dict[str, bool]:
        """Every guest port's tap on its bridge: port id -> whether it carries traffic."""
        networks = {n.id: n for n in desired.networks}
        status = {}
        for port in filter(guest_port, desired.ports):
            network = networks.get(port.network_id)
            try:
                if network is None:
                    raise DriverError(f"network {port.network_id} of {port.id} not given")
                status[port.id] = await bridges.wire_tap(ip, self.namespace, port, network, present)
            except DriverError as exc:
                LOG.warning("port %s not wired: %s", port.id, exc)
                status[port.id] = False
        return status

    async def bind_port(
        self, port: Port, network: Network, groups: tuple[SecurityGroup, ...]
    ) -> None:
        await self.apply_ports(Batch(ports=((port, network),), security_groups=groups))

    async def unbind_port(self, port_id: str) -> None:
        await self.apply_ports(Batch(gone=(port_id,)))

    async def apply_ports(self, batch: Batch) -> None:
        """Ports that changed together, in one go: the gone ones' taps removed, one firewall
        transaction for all (before any new tap is on its bridge), each network's layer 2
        once, each part once (one DHCP reload per network), then their status."""
        await netns.ensure(self.namespace)
        if batch.gone:
            async with netns.ipr(self.namespace) as ip:
                for port_id in batch.gone:
                    await netns.delete_link(ip, names.tap(port_id))
        await self.firewall.apply_ports(batch)
        status = {}
        async with netns.ipr(self.namespace) as ip:
            present = await netns.links(ip)
            networks: set[str] = set()
            for port, network in batch.ports:
                try:
                    if network.id not in networks:
                        await bridges.wire_network(ip, network, self.config, present)
                        networks.add(network.id)
                    wired = True
                    if guest_port(port):
                        self.wired.add(port.id)
                        wired = await bridges.wire_tap(ip, self.namespace, port, network, present)
                except DriverError as exc:
                    LOG.warning("port %s not wired: %s", port.id, exc)
                    wired = False
                status[port.id] = wired and port.admin_state_up
        for part in self.parts:
            await part.apply_ports(batch)
        for port_id in batch.gone:
            if port_id in self.wired:
                self.wired.discard(port_id)
                await self.callbacks.port_down(port_id)
        for port_id, up in status.items():
            await (self.callbacks.port_up if up else self.callbacks.port_down)(port_id)

    async def security_groups_changed(self, groups: tuple[SecurityGroup, ...]) -> None:
        await self.firewall.refresh(groups)

    async def cleanup(self) -> None:
        """Everything Overcast made goes, the dataplane namespace last."""
        await self.apply(HostState(host=""))
        await netns.delete(self.namespace)
