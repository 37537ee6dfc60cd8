"""Every name the linuxbridge dataplane gives a kernel object, and the inverse (which objects
are Overcast's). The only place these names are spelled; see DATAPLANE.md. Interface names
are at most 15 characters; every one starts with `oc`."""

from __future__ import annotations

PREFIX = "oc"
IFNAMSIZ = 15

BRIDGE = "ocb"  # a network's bridge (in the dataplane namespace)
TAP = "oct"  # a guest's tap
VXLAN = "ocx"  # a VXLAN device, by segmentation id
DHCP_NS = "ocd-"  # a DHCP namespace, by network id
DHCP_IF = "ocn"  # the DHCP port's interface inside its namespace
DHCP_PEER = "ocm"  # its veth peer on the bridge
ROUTER_NS = "ocr-"  # a router namespace, by router id
ROUTER_IF = "ocq"  # a router's subnet-side interface (qr-)
ROUTER_GW = "ocg"  # a router's gateway interface (qg-)
ROUTER_PEER = "ocp"  # the veth peer in the dataplane namespace of either
NFT_TABLE = "overcast"  # `bridge overcast` and `inet overcast`: the firewall, in the dataplane ns
NFT_NAT_TABLE = "overcast-nat"  # `ip overcast-nat` (in each router namespace)
DEFAULT_NAMESPACE = "ocdp"


def bridge(network_id: str) -> str:
    return BRIDGE + network_id[:11]


def tap(port_id: str) -> str:
    return TAP + port_id[:11]


def vxlan(segmentation_id: int) -> str:
    return f"{VXLAN}{segmentation_id}"


def dhcp_namespace(network_id: str) -> str:
    return DHCP_NS + network_id


def dhcp_interface(port_id: str) -> str:
    return DHCP_IF + port_id[:11]


def dhcp_peer(port_id: str) -> str:
    return DHCP_PEER + port_id[:11]


def router_namespace(router_id: str) -> str:
    return ROUTER_NS + router_id


def router_interface(port_id: str) -> str:
    return ROUTER_IF + port_id[:11]


def router_gateway(port_id: str) -> str:
    return ROUTER_GW + port_id[:11]


def router_peer(port_id: str) -> str:
    return ROUTER_PEER + port_id[:11]


def is_ours(ifname: str) -> bool:
    """An interface Overcast made in a namespace of its own (never `lo`)."""
    return ifname.startswith(PREFIX)


def network_of_dhcp_namespace(namespace: str) -> str | None:
    return namespace[len(DHCP_NS) :] if namespace.startswith(DHCP_NS) else None


def router_of_namespace(namespace: str) -> str | None:
    return namespace[len(ROUTER_NS) :] if namespace.startswith(ROUTER_NS) else None
