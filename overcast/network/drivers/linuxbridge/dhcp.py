"""DHCP, as Neutron's DHCP agent serves it: for each `network:dhcp` port of this host, a
namespace `ocd-<network>` joined to the network's bridge by a veth (`ocm…` on the bridge,
`ocn…` inside, with the port's MAC and addresses) and a dnsmasq there, started detached (it
outlives Overcast, so guests keep their leases), its files under the data directory, reloaded
by SIGHUP as ports come and go and restarted only when its command line changes.

A `Part` of the linuxbridge driver; the files themselves are written by `dnsmasq`.
"""

from __future__ import annotations

import ipaddress
import shutil
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from pyroute2 import NetlinkError

from overcast.common import files, log
from overcast.network import drivers
from overcast.network.drivers import DriverError
from overcast.network.drivers.linuxbridge import (
    dnsmasq,
    dnsmasq_process,
    metadata_proxy,
    names,
    netns,
)

if TYPE_CHECKING:
    from overcast.network.drivers.linuxbridge import LinuxBridgeDriver

LOG = log.get(__name__)
OWNER = "network:dhcp"


class Dhcp:
    def __init__(self, driver: LinuxBridgeDriver) -> None:
        self.driver = driver
        self.root = driver.settings.data_dir / "network" / "dhcp"

    def _files(self, network_id: str) -> dict[str, str]:
        where = self.root / network_id
        return {k: str(where / k) for k in ("pid", "hosts", "opts", "leases", "argv", "log")}

    async def apply(self, desired: drivers.HostState) -> None:
        networks = {n.id: n for n in desired.networks}
        served = {
            p.network_id: p
            for p in desired.ports
            if p.device_owner == OWNER and p.network_id in networks
        }
        clients: dict[str, list[drivers.Port]] = {}
        for port in desired.dhcp_clients:
            clients.setdefault(port.network_id, []).append(port)
        await self._remove_orphans(set(served), {names.dhcp_peer(p.id) for p in served.values()})
        isolated = metadata_proxy.isolated_networks(desired)
        for network_id, port in served.items():
            # On a network with no router, guests reach the metadata proxy via this port.
            metadata = dict(port.fixed_ips) if network_id in isolated else {}
            try:
                await self._serve(networks[network_id], port, clients.get(network_id, []), metadata)
            except (DriverError, OSError, NetlinkError) as exc:
                LOG.warning("DHCP for network %s not served: %s", network_id, exc, exc_info=True)
                await self.driver.callbacks.port_down(port.id)
                continue
            await self.driver.callbacks.port_up(port.id)

    async def apply_ports(self, batch: drivers.Batch) -> None:
        """Ports changed: their host entries and options replace their old ones, one reload
        per network (the full pass rewrites everything; this only spares the guests the wait).
        Gone ports' entries go with the next full pass."""
        changed: dict[str, list[drivers.Port]] = {}
        networks = {}
        for port, network in batch.ports:
            if port.device_owner != OWNER:
                changed.setdefault(network.id, []).append(port)
                networks[network.id] = network
        for network_id, ports in changed.items():
            where = self._files(network_id)
            if self._running(network_id) and _replace_ports(where, networks[network_id], ports):
                await self._reload(network_id, where)

    # -- one network ------------------------------------------------------------------------

    async def _serve(
        self,
        network: drivers.Network,
        port: drivers.Port,
        clients: list[drivers.Port],
        metadata: dict[str, str],
    ) -> None:
        namespace = names.dhcp_namespace(network.id)
        where = self._files(network.id)
        _mkdir(Path(where["pid"]).parent)  # the record that this dataplane made the namespace
        await netns.ensure(namespace)
        await self._wire(network, port, namespace)
        command = dnsmasq.argv(network, names.dhcp_interface(port.id), where)
        changed, same_command = _write(where, network, clients, command, metadata)
        state = dnsmasq_process.state(self._pidfile(network.id), network.id)
        if state == "running" and same_command:
            if changed:
                await self._reload(network.id, where)
            return
        why = {"running": "its command line changed", "stopped": "it was not running"}
        LOG.info(
            "starting dnsmasq for network %s: %s", network.id,
            why.get(state, "its namespace was made anew"),
        )  # fmt: skip
        await dnsmasq_process.stop(self._pidfile(network.id), network.id)
        files.atomic_write(Path(where["argv"]), "\n".join(command).encode(), 0o644)
        await dnsmasq_process.start(namespace, command)

    async def _reload(self, network_id: str, where: dict[str, str]) -> None:
        """dnsmasq rereads its host and option files: SIGHUP, or a restart where that is not
        safe (`dnsmasq.reloadable`)."""
        hosts, command = _read(where["hosts"]), _read(where["argv"]).split("\n")
        if dnsmasq.reloadable(hosts):
            dnsmasq_process.send(self._pidfile(network_id), network_id, signal.SIGHUP)
            return
        await dnsmasq_process.stop(self._pidfile(network_id), network_id)
        await dnsmasq_process.start(names.dhcp_namespace(network_id), command)

    async def _wire(self, network: drivers.Network, port: drivers.Port, namespace: str) -> None:
        peer, inside = names.dhcp_peer(port.id), names.dhcp_interface(port.id)
        async with netns.ipr(self.driver.namespace) as ip, netns.ipr(namespace) as inner:
            present = await netns.links(inner)
            # A pair whose inner end is not in the namespace (a namespace of that name made
            # anew) is made again; so are inner ends of other ports.
            if inside not in present or not await ip.link_lookup(ifname=peer):
                await netns.delete_link(ip, peer)
                for stale in present:
                    if stale.startswith(names.DHCP_IF):
                        await netns.delete_link(inner, stale)
                await netns.veth(ip, peer, namespace, inside)
            bridge = await ip.link_lookup(ifname=names.bridge(network.id))
            if not bridge:
                raise DriverError(f"bridge of network {network.id} is missing")
            await ip.link("set", ifname=peer, master=bridge[0], mtu=network.mtu, state="up")
        cidrs = {s.id: ipaddress.ip_network(s.cidr) for s in network.subnets}
        wanted = {
            (address, cidrs[subnet_id].prefixlen)
            for subnet_id, address in port.fixed_ips
            if subnet_id in cidrs
        }
        async with netns.ipr(namespace) as ip:
            await ip.link("set", ifname=inside, address=port.mac_address, mtu=network.mtu)
            index = (await ip.link_lookup(ifname=inside))[0]
            await ip.link("set", index=index, state="up")
            have = set()
            for msg in await ip.addr("dump", index=index):
                found = (msg.get("IFA_ADDRESS"), msg["prefixlen"])
                if ipaddress.ip_address(found[0]).is_link_local:
                    continue
                if found in wanted:
                    have.add(found)
                else:
                    await ip.addr("del", index=index, address=found[0], prefixlen=found[1])
            for address, prefix in sorted(wanted - have):
                await ip.addr("add", index=index, address=address, prefixlen=prefix)

    # -- processes and leftovers --------------------------------------------------------------

    def _pidfile(self, network_id: str) -> Path:
        return Path(self._files(network_id)["pid"])

    def _running(self, network_id: str) -> bool:
        return dnsmasq_process.state(self._pidfile(network_id), network_id) == "running"

    async def _remove_orphans(self, served: set[str], peers: set[str]) -> None:
        """Every DHCP namespace, dnsmasq, directory and bridge veth of this dataplane that no
        DHCP port owns goes. A network's directory is made before its namespace, so it
        records every namespace this dataplane made (another cloud's on the host are not)."""
        made = set(_listdir(self.root))
        for network_id in sorted(made - served):
            await dnsmasq_process.stop(self._pidfile(network_id), network_id)
            await netns.delete(names.dhcp_namespace(network_id))
            shutil.rmtree(self.root / network_id, ignore_errors=True)
        if netns.exists(self.driver.namespace):
            async with netns.ipr(self.driver.namespace) as ip:
                for name in await netns.links(ip):
                    if name.startswith(names.DHCP_PEER) and name not in peers:
                        await netns.delete_link(ip, name)


def _listdir(root: Path) -> list[str]:
    return [d.name for d in root.iterdir() if d.is_dir()] if root.exists() else []


def _mkdir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


def _read(path: str) -> str:
    return Path(path).read_text()


def _write(
    where: dict[str, str],
    network: drivers.Network,
    clients: list[drivers.Port],
    command: list[str],
    metadata: dict[str, str],
) -> tuple[bool, bool]:
    """The host and option files rewritten where they differ: (any changed, the saved command
    line is `command`)."""
    changed = False
    for key, text in (
        ("hosts", dnsmasq.hosts(network, clients)),
        ("opts", dnsmasq.opts(network, clients, metadata)),
    ):
        path = Path(where[key])
        if not path.exists() or path.read_text() != text:
            files.atomic_write(path, text.encode(), 0o644)
            changed = True
    saved = Path(where["argv"])
    return changed, saved.exists() and saved.read_text() == "\n".join(command)


def _replace_ports(
    where: dict[str, str], network: drivers.Network, ports: list[drivers.Port]
) -> bool:
    """The ports' lines in the host and option files replaced by their current ones (host
    lines are known by MAC, option lines by tag); True if a file changed."""
    changed = False
    for key, text, mine in (
        ("hosts", dnsmasq.hosts(network, ports), tuple(p.mac_address for p in ports)),
        ("opts", dnsmasq.opts(network, ports), tuple(f"tag:port-{p.id}," for p in ports)),
    ):
        path = Path(where[key])
        old = path.read_text() if path.exists() else ""
        kept = [ln for ln in old.splitlines(keepends=True) if not ln.startswith(mine)]
        new = "".join(kept + [ln for ln in text.splitlines(keepends=True) if ln.startswith(mine)])
        if new != old:
            files.atomic_write(path, new.encode(), 0o644)
            changed = True
    return changed
