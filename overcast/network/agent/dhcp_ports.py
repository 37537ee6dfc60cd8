"""The DHCP ports of a DHCP host, made by the service as Neutron's DHCP agent asks its server
for them: every network with a DHCP-enabled subnet gets one `network:dhcp` port bound to the
host (device id `dhcp<host uuid>-<network>`, an address on each DHCP subnet); a DHCP port of
the host on a network that no longer has DHCP goes. Called by the network agent."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import select

from overcast.common.context import RequestContext
from overcast.network import bindings, operations, ports
from overcast.network.kinds import Op
from overcast.network.models import Network, Port, Subnet
from overcast.network.state import NetworkState

OWNER = "network:dhcp"


def device_id(host: str, network_id: str) -> str:
    return f"dhcp{uuid.uuid5(uuid.NAMESPACE_DNS, host)}-{network_id}"


async def ensure(st: NetworkState, host: str, only: Collection[str] | None = None) -> bool:
    """Make the host's DHCP ports match (for the networks `only`, or all); True if one was
    made."""
    ctx = RequestContext(roles=("admin",))

    async def work(op: Op) -> bool:
        query = select(Subnet.network_id).where(Subnet.enable_dhcp.is_(True))
        if only is not None:
            query = query.where(Subnet.network_id.in_(only))
        wanted = set((await op.session.execute(query)).scalars())
        have_query = select(Port).where(Port.device_owner == OWNER, Port.host == host)
        if only is not None:
            have_query = have_query.where(Port.network_id.in_(only))
        have = {p.network_id: p for p in (await op.session.execute(have_query)).scalars()}
        for network_id in set(have) - wanted:
            await op.session.delete(have[network_id])
        made = False
        for network_id in sorted(wanted - set(have)):
            network = await op.session.get(Network, network_id)
            if network is None:
                continue
            subnets = (
                await op.session.execute(
                    select(Subnet.id).where(
                        Subnet.network_id == network_id, Subnet.enable_dhcp.is_(True)
                    )
                )
            ).scalars()
            requested = [{"subnet_id": subnet_id} for subnet_id in subnets]
            port = await ports.service_port(
                op, network, network.project_id, OWNER, device_id(host, network_id), requested
            )
            port.status, port.host = "DOWN", host
            await bindings.bind(op.session, port, st.settings.network.agent_down_time)
            made = True
        return made

    return await operations.run(st, ctx, work)
