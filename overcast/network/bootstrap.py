"""First start: the networks DevStack makes. An admin external network `public` (flat, on
the `public` physical network) with a subnet in a documentation range and no DHCP; a shared
default subnet pool for get-me-a-network; and for the demo project a `private` network and
subnet and a router `router1` whose gateway is `public`. Only on a cloud with no networks
yet, so an operator's later changes are never undone."""

from __future__ import annotations

import ipaddress

from sqlalchemy import func, select

from overcast.common import log
from overcast.common.context import RequestContext
from overcast.common.service import Runtime
from overcast.network import attributes, operations, routers
from overcast.network.kinds import Op
from overcast.network.models import Network
from overcast.network.networks import Networks
from overcast.network.state import NetworkState
from overcast.network.subnetpools import SubnetPools
from overcast.network.subnets import Subnets

LOG = log.get(__name__)
DEFAULT_POOL = "10.128.0.0/16"


def _values(kind: object, given: dict[str, object]) -> dict[str, object]:
    spec = kind.attrs  # type: ignore[attr-defined]
    return attributes.parse(kind.name, spec, {kind.name: given}, create=True)  # type: ignore[attr-defined]


async def run(st: NetworkState, runtime: Runtime) -> None:
    admin_project = runtime.projects.get("admin")
    demo_project = runtime.projects.get("demo")
    if admin_project is None:
        return
    ctx = RequestContext(project_id=admin_project, roles=("admin", "member", "reader"))

    async def work(op: Op) -> bool:
        if await op.session.scalar(select(func.count()).select_from(Network)):
            return False
        settings = st.settings.network
        public_net = ipaddress.ip_network(settings.public_cidr)
        nets, subnets, pools = Networks(), Subnets(), SubnetPools()
        public = await nets.create(
            op,
            _values(
                nets,
                {
                    "name": "public",
                    "router:external": True,
                    "is_default": True,
                    "provider:network_type": "flat",
                    "provider:physical_network": "public",
                },
            ),
        )
        await subnets.create(
            op,
            _values(
                subnets,
                {
                    "name": "public-subnet",
                    "network_id": public.id,
                    "ip_version": public_net.version,
                    "cidr": str(public_net),
                    "enable_dhcp": False,
                },
            ),
        )
        await pools.create(
            op,
            _values(
                pools,
                {
                    "name": "shared-default-subnetpool-v4",
                    "prefixes": [DEFAULT_POOL],
                    "default_prefixlen": 26,
                    "shared": True,
                    "is_default": True,
                },
            ),
        )
        if demo_project is None:
            return True
        private = await nets.create(
            op, _values(nets, {"name": "private", "project_id": demo_project})
        )
        subnet = await subnets.create(
            op,
            _values(
                subnets,
                {
                    "name": "private-subnet",
                    "network_id": private.id,
                    "ip_version": 4,
                    "cidr": settings.private_cidr,
                    "project_id": demo_project,
                },
            ),
        )
        router = await routers.Routers().create(
            op,
            _values(
                routers.Routers,
                {
                    "name": "router1",
                    "project_id": demo_project,
                    "external_gateway_info": {"network_id": public.id},
                },
            ),
        )
        await routers.add_interface(op, router, {"subnet_id": subnet.id})
        return True

    if await operations.run(st, ctx, work):
        LOG.info("bootstrapped networks: public, private, router1")
