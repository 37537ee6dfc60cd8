"""Security-group rules as nftables matches, and the same rules as a Python predicate over
a conntrack flow. `fwtable` renders the first into the firewall's chains; `conntrack` uses the
second to find the established flows that a narrowed policy no longer allows."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from overcast.network import protocols
from overcast.network.drivers import Rule

PORTED, ICMP4, ICMP6 = protocols.PORTED, protocols.ICMP4, protocols.ICMP6


def proto_number(rule: Rule) -> int | None:
    """The IP protocol number a rule matches; "icmp" on an IPv6 rule means ICMPv6, as in
    Neutron."""
    if rule.protocol is None:
        return None
    number = protocols.NUMBERS.get(rule.protocol.lower())
    if number is None:
        number = int(rule.protocol)
    if number == ICMP4 and rule.ethertype == "IPv6":
        return ICMP6
    return number


def set_name(group_id: str, version: int) -> str:
    """The named set holding the members of a remote group (one per IP version)."""
    return f"rg{version}_{group_id.replace('-', '')}"


def _prefix(value: str | None) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if value is None:
        return None
    net = ipaddress.ip_network(value, strict=False)
    return None if net.prefixlen == 0 else net


def match(rule: Rule) -> str:
    """The nftables statement accepting what `rule` allows; ingress rules are evaluated on
    traffic to the port (the remote side is the source), egress on traffic from it."""
    v6 = rule.ethertype == "IPv6"
    l3 = "ip6" if v6 else "ip"
    side = "saddr" if rule.direction == "ingress" else "daddr"
    parts = [f"ether type {l3}"]
    prefix = _prefix(rule.remote_ip_prefix)
    if prefix is not None:
        parts.append(f"{l3} {side} {prefix}")
    elif rule.remote_group_id is not None:
        parts.append(f"{l3} {side} @{set_name(rule.remote_group_id, 6 if v6 else 4)}")
    proto = proto_number(rule)
    low, high = rule.port_range_min, rule.port_range_max
    if proto in (ICMP4, ICMP6) and (proto == ICMP6) == v6:
        word = "icmpv6" if v6 else "icmp"
        parts.append(f"meta l4proto {word}")
        if low is not None:
            parts.append(f"{word} type {low}")
            if high is not None:
                parts.append(f"{word} code {high}")
    elif proto is not None:
        parts.append(f"meta l4proto {proto}")
        if proto in PORTED and low is not None:
            ports = str(low) if high in (None, low) else f"{low}-{high}"
            parts.append(f"th dport {ports}")
    parts.append("accept")
    return " ".join(parts)


@dataclass(frozen=True)
class Flow:
    """The original direction of a conntrack entry."""

    version: int
    proto: int
    src: str
    dst: str
    sport: int | None = None
    dport: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None


def allows(rule: Rule, flow: Flow, outbound: bool, members: frozenset[str]) -> bool:
    """Whether `rule` admits `flow` as the port sees it: `outbound` when the port opened it
    (egress rules), else inbound (ingress rules). `members` are the rule's remote group's
    addresses."""
    if rule.direction != ("egress" if outbound else "ingress"):
        return False
    if rule.ethertype != f"IPv{flow.version}":
        return False
    remote = ipaddress.ip_address(flow.dst if outbound else flow.src)
    prefix = _prefix(rule.remote_ip_prefix)
    if prefix is not None and remote not in prefix:
        return False
    if prefix is None and rule.remote_group_id is not None:
        if not any(remote in ipaddress.ip_network(m, strict=False) for m in members):
            return False
    proto = proto_number(rule)
    if proto is None:
        return True
    if proto != flow.proto:
        return False
    low, high = rule.port_range_min, rule.port_range_max
    if proto in (ICMP4, ICMP6):
        return (low is None or low == flow.icmp_type) and (high is None or high == flow.icmp_code)
    if proto in PORTED and low is not None:
        return flow.dport is not None and low <= flow.dport <= (high if high is not None else low)
    return True
