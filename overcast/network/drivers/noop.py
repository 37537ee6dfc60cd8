"""The `noop` dataplane: ports bind and go ACTIVE as with a real driver, but the host is not
touched. It remembers which ports it has "wired" so that `apply` and `unbind_port` behave as
a real driver's would (ports that leave the desired state are unwired and reported down).
The VIF details it reports are the Linux-bridge names a real host would use, so compute's
hypervisor drivers get the same network info either way."""

from __future__ import annotations

from overcast.network.drivers import Capabilities, Driver, HostState, Network, Port, SecurityGroup

CAPABILITIES = Capabilities(
    agent_type="Noop agent",
    binary="overcast-noop-agent",
    vif_type="bridge",
    vif_details={
        "connectivity": "l2",
        "port_filter": True,
        "bridge_name": "ocb{network_id:.11}",
        "devname": "oct{port_id:.11}",
    },
    network_types=("flat", "vlan", "vxlan", "geneve", "gre", "local"),
    vnic_types=("normal",),
)


class NoopDriver(Driver):
    capabilities = CAPABILITIES

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.wired: dict[str, Port] = {}

    async def apply(self, desired: HostState) -> None:
        wanted = {p.id: p for p in desired.ports}
        for port_id in list(self.wired):
            if port_id not in wanted:
                await self.unbind_port(port_id)
        for port in desired.ports:
            self.wired[port.id] = port
            if port.admin_state_up:
                await self.callbacks.port_up(port.id)
            else:
                await self.callbacks.port_down(port.id)

    async def bind_port(
        self, port: Port, network: Network, groups: tuple[SecurityGroup, ...]
    ) -> None:
        self.wired[port.id] = port
        if port.admin_state_up:
            await self.callbacks.port_up(port.id)
        else:
            await self.callbacks.port_down(port.id)

    async def unbind_port(self, port_id: str) -> None:
        if self.wired.pop(port_id, None) is not None:
            await self.callbacks.port_down(port_id)
