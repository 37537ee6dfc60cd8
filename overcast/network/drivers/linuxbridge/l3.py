"""The L3 part of the linuxbridge driver (a `Part`, run after layer 2 and DHCP): the routers
with their NAT (`routers`, `nat`) and the metadata proxies (`metadata_proxy`) in the router
namespaces and, for networks with no router, in the DHCP namespaces. Made by the Driver."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from pyroute2 import NetlinkError

from overcast.network.drivers import Batch, DriverError, HostState
from overcast.network.drivers.linuxbridge import metadata_proxy, names, netns, routers
from overcast.network.drivers.linuxbridge.metadata_proxy import Spot

if TYPE_CHECKING:
    from overcast.network.drivers.linuxbridge import LinuxBridgeDriver


class L3:
    def __init__(self, driver: LinuxBridgeDriver) -> None:
        self.dataplane = driver.namespace
        where = driver.settings.data_dir / "network" / "l3" / f"{driver.namespace}.routers"
        self.made = routers.Made(where)
        self.proxy = metadata_proxy.MetadataProxy(driver.settings)

    async def apply(self, desired: HostState) -> None:
        spots = _spots(desired)
        # Listeners of routers and networks that go are closed first: an open socket would
        # keep a removed namespace (and its interfaces) alive.
        await self.proxy.retain(spots)
        try:
            networks = {n.id: n for n in desired.networks}
            await routers.apply(
                self.dataplane, desired.routers, networks, metadata_proxy.PORT, self.made
            )
        finally:
            await self._serve(spots, metadata_proxy.instances(desired))

    async def _serve(self, spots: set[Spot], directory: metadata_proxy.Directory) -> None:
        ready = set()
        for spot in spots:
            if not netns.exists(spot.namespace):
                continue  # its router failed or DHCP is not up yet: the next pass
            if spot.port == 80:
                await _metadata_address(spot.namespace)
            ready.add(spot)
        await self.proxy.serve(ready, directory)

    async def apply_ports(self, batch: Batch) -> None:
        """Guest ports get their metadata at once, not from the next full pass."""
        for port, _ in batch.ports:
            self.proxy.learn(port)
        for port_id in batch.gone:
            self.proxy.forget(port_id)

    async def stop(self) -> None:
        await self.proxy.stop()


def _spots(desired: HostState) -> set[Spot]:
    """Where the metadata proxy listens: each router namespace (the NAT redirects there) and
    the DHCP namespace of each network with no router."""
    found = set()
    for router in desired.routers:
        if router.admin_state_up and router.interfaces:
            local = tuple(sorted({(a.split("/")[0], n) for _, n, a, _ in router.interfaces}))
            found.add(
                Spot(names.router_namespace(router.id), "0.0.0.0", metadata_proxy.PORT, local)
            )
    for network_id in metadata_proxy.isolated_networks(desired):
        found.add(
            Spot(names.dhcp_namespace(network_id), metadata_proxy.ADDRESS, 80, (("", network_id),))
        )
    return found


async def _metadata_address(namespace: str) -> None:
    """169.254.169.254/32 on the DHCP namespace's loopback, so the listener can bind it; guests
    reach it by the host route DHCP gives them via the DHCP port."""
    async with netns.ipr(namespace) as ip:
        index = (await ip.link_lookup(ifname="lo"))[0]
        try:
            await ip.addr("add", index=index, address=metadata_proxy.ADDRESS, prefixlen=32)
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise DriverError(f"metadata address in {namespace}: {exc}") from exc
