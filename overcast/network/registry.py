"""Every resource type of the network API, by its URL path (`networks`, `security-groups`)."""

from __future__ import annotations

from overcast.network.agents import Agents
from overcast.network.floating_ips import FloatingIPs
from overcast.network.kinds import Kind
from overcast.network.networks import Networks
from overcast.network.ports import Ports
from overcast.network.rbac import RBACPolicies
from overcast.network.routers import Routers
from overcast.network.security_groups import SecurityGroupRules, SecurityGroups
from overcast.network.subnetpools import AddressScopes, SubnetPools
from overcast.network.subnets import Subnets

KINDS: dict[str, Kind] = {
    k.path: k
    for k in (
        Networks(),
        Subnets(),
        Ports(),
        SecurityGroups(),
        SecurityGroupRules(),
        SubnetPools(),
        AddressScopes(),
        Routers(),
        FloatingIPs(),
        RBACPolicies(),
        Agents(),
    )
}
