"""The network service's tables (prefix `network_`), one module per group of resources.

`Standard` holds Neutron's standard attributes (description, timestamps, revision number);
tags of every resource live in one table keyed by the resource's id.
"""

from __future__ import annotations

from overcast.network.models.base import Base, Standard, Tag
from overcast.network.models.core import (
    IPAllocation,
    Network,
    Port,
    PortSecurityGroup,
    Segment,
    SegmentAllocation,
    Subnet,
)
from overcast.network.models.l3 import FloatingIP, PortForwarding, Router
from overcast.network.models.misc import (
    AddressScope,
    Agent,
    AutoAllocated,
    ProjectLock,
    Quota,
    RBACPolicy,
    SubnetPool,
)
from overcast.network.models.security import DefaultSecurityGroup, SecurityGroup, SecurityGroupRule

__all__ = [
    "AddressScope",
    "Agent",
    "AutoAllocated",
    "Base",
    "DefaultSecurityGroup",
    "FloatingIP",
    "IPAllocation",
    "Network",
    "Port",
    "PortForwarding",
    "PortSecurityGroup",
    "ProjectLock",
    "Quota",
    "RBACPolicy",
    "Router",
    "SecurityGroup",
    "SecurityGroupRule",
    "Segment",
    "SegmentAllocation",
    "Standard",
    "Subnet",
    "SubnetPool",
    "Tag",
]
