"""The dataplane driver contract, as ML2's mechanism drivers and their agents are.

A driver runs inside the network agent of one host (`network/agent`). The agent is a
level-based reconciler: it reads from the database the *desired* state of its host (the
ports bound there, their networks and security groups, and on an L3 host the routers) and
hands it whole to `apply`; the driver makes the host match, creating what is missing,
changing what differs and removing what Overcast made that is no longer wanted. A change to
one port also arrives at once through `bind_port`/`unbind_port` (or, for ports that changed
together, `apply_ports`), so a boot does not wait for the next full pass. Every method is idempotent; errors are `DriverError` (temporary: the
agent retries on its next pass) or `errors.NotSupported`.

What a driver needs from the service it gets through `Callbacks` (a port is wired, a port is
gone); it knows nothing of HTTP or the database. Drivers: `noop` (bindings and status only:
the host changes nothing) and `linuxbridge` (bridges, veth/tap, namespaces, dnsmasq,
nftables) with the same contract.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Protocol

from overcast.common.config import Settings
from overcast.common.trace import instrument


class DriverError(Exception):
    """A temporary failure: the agent logs it and tries again on its next pass."""


@dataclass(frozen=True)
class Capabilities:
    """What the driver serves, reported in the agent's heartbeat. Port binding reads it from
    there: a port binds on a host only if its L2 agent is alive and serves the port's segment
    type and vnic type; the VIF details' templates are filled with `{network_id}`,
    `{port_id}` and `{segmentation_id}` (format specs such as `{port_id:.11}` work)."""

    agent_type: str  # e.g. "Linux bridge agent"
    binary: str  # e.g. "overcast-linuxbridge-agent"
    vif_type: str  # what compute plugs: "bridge", "tap", ...
    vif_details: dict[str, Any]  # e.g. {"bridge_name": "ocb{network_id:.11}", ...}
    network_types: tuple[str, ...] = ("flat", "vlan", "vxlan", "local")
    vnic_types: tuple[str, ...] = ("normal",)
    l3: bool = False  # runs routers (with NAT and floating IPs)
    dhcp: bool = False  # serves DHCP on networks
    # Shown in `network agent show` (`configurations`): e.g. the tunnel address, what the
    # host cannot do.
    configurations: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Segment:
    network_type: str
    physical_network: str | None
    segmentation_id: int | None


@dataclass(frozen=True)
class Subnet:
    id: str
    cidr: str
    ip_version: int
    gateway_ip: str | None
    enable_dhcp: bool
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[tuple[str, str], ...] = ()  # (destination, nexthop)
    ipv6_ra_mode: str | None = None
    ipv6_address_mode: str | None = None


@dataclass(frozen=True)
class Network:
    id: str
    mtu: int
    admin_state_up: bool
    segments: tuple[Segment, ...]
    subnets: tuple[Subnet, ...] = ()
    external: bool = False
    # (MAC, tunnel address) of the network's ports on other hosts: VXLAN unicast flooding.
    peers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Port:
    """A port bound to this host, with what wiring it needs."""

    id: str
    network_id: str
    mac_address: str
    fixed_ips: tuple[tuple[str, str], ...]  # (subnet_id, address)
    admin_state_up: bool
    device_owner: str
    device_id: str
    vif_type: str
    vif_details: dict[str, Any] = field(hash=False, compare=True, default_factory=dict)
    port_security: bool = True
    security_groups: tuple[str, ...] = ()
    allowed_address_pairs: tuple[tuple[str, str], ...] = ()  # (ip or cidr, mac)
    extra_dhcp_opts: tuple[tuple[str, str | None], ...] = ()
    dns_name: str = ""


@dataclass(frozen=True)
class Rule:
    direction: str  # ingress | egress
    ethertype: str  # IPv4 | IPv6
    protocol: str | None
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None
    remote_group_id: str | None


@dataclass(frozen=True)
class SecurityGroup:
    id: str
    stateful: bool
    rules: tuple[Rule, ...]
    member_ips: tuple[str, ...]  # addresses (or CIDRs: address pairs) of the group's ports


@dataclass(frozen=True)
class FloatingIP:
    id: str
    floating_ip_address: str
    fixed_ip_address: str
    port_id: str


@dataclass(frozen=True)
class PortForward:
    floating_ip_address: str
    external_port: int
    internal_ip_address: str
    internal_port: int
    protocol: str


@dataclass(frozen=True)
class Router:
    id: str
    admin_state_up: bool
    gateway: tuple[str, str, str] | None  # (network_id, address/prefix, gateway ip) or None
    enable_snat: bool
    interfaces: tuple[tuple[str, str, str, str], ...]  # (port_id, network_id, address/prefix, mac)
    routes: tuple[tuple[str, str], ...]  # (destination, nexthop)
    floating_ips: tuple[FloatingIP, ...] = ()
    forwards: tuple[PortForward, ...] = ()
    gateway_port: tuple[str, str] | None = None  # (port_id, mac) of the gateway's port


@dataclass(frozen=True)
class HostState:
    """The desired state of one host, complete: anything Overcast made that is not here goes."""

    host: str
    networks: tuple[Network, ...] = ()
    ports: tuple[Port, ...] = ()
    security_groups: tuple[SecurityGroup, ...] = ()
    routers: tuple[Router, ...] = ()
    # Every port (on any host) of the networks whose DHCP this host serves (those with a
    # `network:dhcp` port in `ports`): their DHCP host entries.
    dhcp_clients: tuple[Port, ...] = ()


@dataclass(frozen=True)
class Batch:
    """Ports that changed together, for the fast path: those bound to this host with their
    networks, the security groups they need (theirs and those their rules name as remote),
    and the ids of the others (gone, moved or failed: to unwire)."""

    ports: tuple[tuple[Port, Network], ...] = ()
    security_groups: tuple[SecurityGroup, ...] = ()
    gone: tuple[str, ...] = ()


class Callbacks(Protocol):
    """What a driver may tell the service."""

    async def port_up(self, port_id: str) -> None:
        """The port is wired on this host (its device exists and carries traffic)."""

    async def port_down(self, port_id: str) -> None:
        """The port's device went away or could not be wired."""


class Driver(instrument.TracedCalls, abc.ABC):
    capabilities: Capabilities

    def __init__(self, settings: Settings, callbacks: Callbacks) -> None:
        self.settings = settings
        self.callbacks = callbacks

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Prepare the host (e.g. find what a previous run left). Default: nothing."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Release what `start` took; leaves the dataplane running. Default: nothing."""

    @abc.abstractmethod
    async def apply(self, desired: HostState) -> None:
        """Make the host match `desired` entirely; call `port_up` for every admin-up port
        that is wired (again, even if it was before) and `port_down` for ports that cannot
        be. Post: nothing Overcast made and `desired` lacks remains. Idempotent."""

    @abc.abstractmethod
    async def bind_port(
        self, port: Port, network: Network, groups: tuple[SecurityGroup, ...]
    ) -> None:
        """Wire one port now (the fast path of `apply`); `port_up` when it carries traffic
        (and is filtered by `groups`: its own and the groups their rules name as remote).
        Binding a port that is already wired changes only what differs."""

    @abc.abstractmethod
    async def unbind_port(self, port_id: str) -> None:
        """Unwire one port. Unbinding an unknown port succeeds."""

    async def apply_ports(self, batch: Batch) -> None:
        """`unbind_port` and `bind_port` for each port of `batch`. A driver that can do many
        ports in one go (one firewall transaction, one DHCP reload) does so."""
        for port_id in batch.gone:
            await self.unbind_port(port_id)
        for port, network in batch.ports:
            await self.bind_port(port, network, batch.security_groups)

    async def security_groups_changed(  # noqa: B027 - optional hook
        self, groups: tuple[SecurityGroup, ...]
    ) -> None:
        """These groups' rules or members changed (the fast path for filtering: ports and
        their wiring are as before). Post: ports filtered with them follow the new rules.
        Default: nothing (a driver that does not filter)."""

    async def cleanup(self) -> None:
        """Remove everything this driver made on the host (`overcast down`)."""
        await self.apply(HostState(host=""))


def unusable() -> str | None:
    """Why the linuxbridge driver cannot run on this host, or None when it can."""
    from overcast.network.drivers.linuxbridge import probe  # probes the host: only when asked

    return probe.run_usable()


def choose(settings: Settings) -> str:
    """The configured driver; `auto` is linuxbridge when the host can run it (root, network
    namespaces, bridges, veth, dnsmasq and nft), else noop."""
    name = settings.network.driver
    if name != "auto":
        return name
    return "noop" if unusable() else "linuxbridge"


def describe(settings: Settings) -> str:
    """What `choose` picks and why, for `overcast up` to say."""
    if settings.network.driver != "auto":
        return f"{settings.network.driver} (as configured)"
    why = unusable()
    if why:
        return f"noop ({why}: no packets are carried)"
    namespace = settings.network.linuxbridge.namespace
    return f"linuxbridge (bridges, taps and dnsmasq in namespaces {namespace} and oc*)"


def resolve(settings: Settings) -> str:
    """Fix `settings.network.driver` to what `choose` picks (and, unless set, whether guests
    need a config drive: without a dataplane no metadata service reaches them), so every unit
    and forked process agrees without probing again; `describe`'s sentence. Called by
    `overcast up` and `overcast serve` before they build the cloud."""
    said = describe(settings)
    settings.network.driver = said.split(" ", 1)[0]
    if settings.compute.qemu.force_config_drive is None:
        settings.compute.qemu.force_config_drive = settings.network.driver == "noop"
    return said


class _Silent:
    async def port_up(self, port_id: str) -> None:
        """Nobody to tell: the cloud is stopped."""

    async def port_down(self, port_id: str) -> None:
        """Nobody to tell: the cloud is stopped."""


def remove_dataplane(settings: Settings) -> str:
    """`overcast down`: everything the configured driver made on this host goes (`cleanup`),
    with the cloud stopped. What it did, as a sentence."""
    import asyncio

    name = resolve(settings)
    driver = load(settings.network.driver, settings, _Silent())
    asyncio.run(driver.cleanup())
    return (
        f"removed the {name.split(' ', 1)[0]} dataplane (guests still running lose their network)"
    )


def load(name: str, settings: Settings, callbacks: Callbacks) -> Driver:
    """The driver called `name` (`noop`, `linuxbridge`; `auto` as `choose` resolves it)."""
    if name == "auto":
        name = choose(settings)
    if name == "noop":
        from overcast.network.drivers.noop import NoopDriver

        return NoopDriver(settings, callbacks)
    if name == "linuxbridge":
        from overcast.network.drivers.linuxbridge import LinuxBridgeDriver

        return LinuxBridgeDriver(settings, callbacks)
    raise ValueError(f"unknown network driver {name!r}")
