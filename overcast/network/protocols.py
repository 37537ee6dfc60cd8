"""IP protocol names a security-group rule may use, and the numbers they stand for: read by
the rules API (validation) and by dataplane drivers (the rules they enforce)."""

from __future__ import annotations

NUMBERS = {
    "ah": 51,
    "dccp": 33,
    "egp": 8,
    "esp": 50,
    "gre": 47,
    "hopopt": 0,
    "icmp": 1,
    "igmp": 2,
    "ipip": 4,
    "ipv6-encap": 41,
    "ipv6-frag": 44,
    "ipv6-icmp": 58,
    "icmpv6": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "ipv6-route": 43,
    "ospf": 89,
    "pgm": 113,
    "rsvp": 46,
    "sctp": 132,
    "tcp": 6,
    "udp": 17,
    "udplite": 136,
    "vrrp": 112,
}
PORTED = frozenset({6, 17, 33, 132, 136})  # protocols whose header starts with two ports
ICMP4, ICMP6 = 1, 58
