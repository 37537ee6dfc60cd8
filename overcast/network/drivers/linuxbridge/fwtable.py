"""The firewall's nftables tables as data: `build` turns the filtered ports of a host and
their security groups into a `Tables`; `full` renders it whole (the tables replaced in one
transaction) and `changes` renders only what differs from the tables last applied (chains
flushed and refilled, set elements and verdict-map entries added and removed), still one
transaction. Called by `firewall.Firewall`.

Layout (in the dataplane namespace): `table bridge overcast` filters bridged frames. Frames
from a guest meet `from_port` (a verdict map on the tap's name, hook forward and input), frames
to a guest meet `to_port` (on the out port, a later base chain of the forward hook, so that
both sides' verdicts apply). Each port has a chain per direction (anti-spoofing, the traffic
Neutron always allows, then a jump to each of its groups' chains, then drop); each group has a
chain per direction with one accepting rule per security-group rule; remote groups are named
sets of member addresses. The bridge family has no conntrack on this kernel, so
`table inet overcast` (reached by bridged IP through br_netfilter) puts each network's flows in
a conntrack zone of its own and copies the connection state into the packet mark, which the
port chains read (1 established or related, 2 invalid).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from overcast.network.drivers import Port, SecurityGroup
from overcast.network.drivers.linuxbridge import names, sgrules

ESTABLISHED, INVALID = 1, 2
# ICMPv6 that neighbour discovery and multicast listening need, allowed as Neutron does.
ND_OUT = "nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-report, mld-listener-done, mld2-listener-report"
ND_IN = "nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-query"


@dataclass
class Tables:
    """Everything the firewall holds, keyed as nftables names it."""

    chains: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sets: dict[str, tuple[str, set[str]]] = field(default_factory=dict)  # name: (declared, elems)
    from_port: dict[str, str] = field(default_factory=dict)  # tap name: chain
    to_port: dict[str, str] = field(default_factory=dict)
    zones: dict[str, int] = field(default_factory=dict)  # bridge name: conntrack zone


def chain_name(kind: str, ident: str) -> str:
    return f"{kind}_{ident.replace('-', '')}"


def filtered(port: Port) -> bool:
    """Ports the firewall guards: Overcast's own (DHCP, routers) are trusted, as in Neutron."""
    return port.port_security and not port.device_owner.startswith("network:")


def _lla(mac: str) -> str:
    """The EUI-64 link-local address a MAC gives."""
    octets = [int(b, 16) for b in mac.split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    return str(ipaddress.IPv6Address(bytes([0xFE, 0x80] + [0] * 6 + eui)))


def _host(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def _anti_spoofing(port: Port, out: Tables) -> None:
    """The port's (tap . MAC) and (tap . address . MAC) elements: its fixed IPs, its allowed
    address pairs, link-local IPv6 and, for ARP probes, 0.0.0.0. Addresses of one MAC are
    collapsed, as interval sets refuse overlapping elements."""
    tap, own = f'"{names.tap(port.id)}"', port.mac_address.lower()
    by_mac: dict[str, list[str]] = {own: ["fe80::/64", "0.0.0.0"]}
    for _, address in port.fixed_ips:
        by_mac[own].append(address)
    for address, mac in port.allowed_address_pairs:
        by_mac.setdefault(mac.lower(), []).append(address)
    for mac, addresses in by_mac.items():
        out.sets["sp_mac"][1].add(f"{tap} . {mac}")
        nets = [ipaddress.ip_network(a, strict=False) for a in addresses]
        for version, name in ((4, "sp_ip4"), (6, "sp_ip6")):
            mine = [n for n in nets if n.version == version]
            for net in ipaddress.collapse_addresses(mine):  # type: ignore[type-var]
                out.sets[name][1].add(f"{tap} . {_host(net)} . {mac}")
                if version == 4:
                    out.sets["sp_arp"][1].add(f"{tap} . {_host(net)} . {mac}")
        if mac == own:
            out.sets["sp_ip4"][1].discard(f"{tap} . 0.0.0.0 . {own}")  # ARP only


def _stateful(groups: list[SecurityGroup]) -> bool:
    return not groups or any(g.stateful for g in groups)


def _port_chain(first: str, kind: str, groups: list[SecurityGroup]) -> tuple[str, ...]:
    rules = [f"jump {first}"]
    if _stateful(groups):
        rules += [f"meta mark {INVALID} drop", f"meta mark {ESTABLISHED} accept"]
    rules += [f"jump {chain_name(kind, g.id)}" for g in groups]
    rules.append("drop")
    return tuple(rules)


# Fixed chains. `spoof` (from a guest): its port's MAC and addresses only (the sets), DHCP
# before it has an address, no DHCP or router advertisements of its own, neighbour
# discovery. `guard` (to a guest): ARP, neighbour discovery and DHCP answers pass.
SPOOF = (
    "iifname . ether saddr != @sp_mac drop",
    "iifname . arp saddr ip . arp saddr ether @sp_arp accept",
    "ether type arp drop",
    "ether type != { ip, ip6 } drop",
    "udp sport 68 udp dport 67 accept",
    "udp sport 67 udp dport 68 drop",
    "udp sport 547 udp dport 546 drop",
    "icmpv6 type { nd-router-advert, nd-redirect } drop",
    f"ip6 saddr :: icmpv6 type {{ {ND_OUT} }} accept",
    "iifname . ip saddr . ether saddr != @sp_ip4 drop",
    "iifname . ip6 saddr . ether saddr != @sp_ip6 drop",
    f"icmpv6 type {{ {ND_OUT} }} accept",
    "udp sport 546 udp dport 547 accept",
)
GUARD = (
    "ether type arp accept",
    "ether type != { ip, ip6 } drop",
    f"icmpv6 type {{ {ND_IN} }} accept",
    "udp sport 67 udp dport 68 accept",
    "udp sport 547 udp dport 546 accept",
)
SPOOF_SETS = {
    "sp_mac": "typeof iifname . ether saddr",
    "sp_arp": "typeof iifname . arp saddr ip . arp saddr ether; flags interval",
    "sp_ip4": "typeof iifname . ip saddr . ether saddr; flags interval",
    "sp_ip6": "typeof iifname . ip6 saddr . ether saddr; flags interval",
}


def build(
    ports: Iterable[Port],
    groups: Iterable[SecurityGroup],
    zones: dict[str, int],
) -> Tables:
    """The tables for `ports` (those the firewall guards) with `groups` (theirs, and the
    groups their rules name as remote). `zones` are the conntrack zones already given to
    bridges; new bridges get the lowest free."""
    by_id = {g.id: g for g in groups}
    out = Tables(sets={name: (decl, set()) for name, decl in SPOOF_SETS.items()})
    used: set[str] = set()
    for port in ports:
        if not filtered(port):
            continue
        mine = [by_id[g] for g in port.security_groups if g in by_id]
        used.update(g.id for g in mine)
        _anti_spoofing(port, out)
        out.chains[chain_name("po", port.id)] = _port_chain("spoof", "go", mine)
        out.chains[chain_name("pi", port.id)] = _port_chain("guard", "gi", mine)
        out.from_port[names.tap(port.id)] = chain_name("po", port.id)
        out.to_port[names.tap(port.id)] = chain_name("pi", port.id)
        out.zones[names.bridge(port.network_id)] = 0
    remotes: set[str] = set()
    for gid in sorted(used):
        group = by_id[gid]
        for direction, kind in (("egress", "go"), ("ingress", "gi")):
            matches = (sgrules.match(r) for r in group.rules if r.direction == direction)
            out.chains[chain_name(kind, gid)] = tuple(matches)
        remotes.update(r.remote_group_id for r in group.rules if r.remote_group_id)
    for gid in sorted(remotes):
        members = by_id[gid].member_ips if gid in by_id else ()
        nets = [ipaddress.ip_network(a, strict=False) for a in members]
        for version, kind in ((4, "ipv4_addr"), (6, "ipv6_addr")):
            of_version = [n for n in nets if n.version == version]
            collapsed = ipaddress.collapse_addresses(of_version)  # type: ignore[type-var]
            elems = {_host(n) for n in collapsed}
            out.sets[sgrules.set_name(gid, version)] = (f"type {kind}; flags interval", elems)
    taken = {z for b, z in zones.items() if b in out.zones}
    for name in sorted(out.zones):
        if name in zones:
            out.zones[name] = zones[name]
        else:
            free = next(z for z in range(1, 65536) if z not in taken)
            taken.add(free)
            out.zones[name] = free
    return out


def _elements(items: Iterable[str]) -> str:
    return ", ".join(items)


def _vmap(entries: dict[str, str]) -> str:
    return _elements(f'"{k}" : jump {v}' for k, v in sorted(entries.items()))


def _zonemap(zones: dict[str, int]) -> str:
    return _elements(f'"{k}" : {v}' for k, v in sorted(zones.items()))


PREAMBLE = (
    "table inet overcast {}\ndelete table inet overcast\n"
    "table bridge overcast {}\ndelete table bridge overcast\n"
)


def full(t: Tables) -> str:
    """The whole of both tables, replacing whatever is there."""
    lines = [PREAMBLE, "table inet overcast {"]
    zones = f" elements = {{ {_zonemap(t.zones)} }};" if t.zones else ""
    lines += [
        f"  map zones {{ typeof iifname : ct zone;{zones} }}",
        "  chain raw { type filter hook prerouting priority -300; policy accept;",
        "    ct zone set iifname map @zones\n  }",
        "  chain state { type filter hook prerouting priority -150; policy accept;",
        f"    meta mark set ct state map {{ established : {ESTABLISHED}, related : {ESTABLISHED},"
        f" invalid : {INVALID}, new : 0, untracked : 0 }}\n  }}",
        "}",
        "table bridge overcast {",
    ]
    for name, (decl, elems) in sorted(t.sets.items()):
        body = f" elements = {{ {_elements(sorted(elems))} }};" if elems else ""
        lines.append(f"  set {name} {{ {decl};{body} }}")
    for name, entries in (("from_port", t.from_port), ("to_port", t.to_port)):
        body = f" elements = {{ {_vmap(entries)} }};" if entries else ""
        lines.append(f"  map {name} {{ type ifname : verdict;{body} }}")
    # Declared first so that jumps between them resolve whatever their order.
    lines += [f"  chain {name}" + " {}" for name in sorted(t.chains)]
    for name, rules in [("spoof", SPOOF), ("guard", GUARD), *sorted(t.chains.items())]:
        lines.append(f"  chain {name} {{")
        lines += [f"    {r}" for r in rules]
        lines.append("  }")
    lines += [
        "  chain from_guest { type filter hook forward priority 0; policy accept;",
        "    iifname vmap @from_port\n  }",
        "  chain to_guest { type filter hook forward priority 10; policy accept;",
        "    oifname vmap @to_port\n  }",
        "  chain from_guest_local { type filter hook input priority 0; policy accept;",
        "    iifname vmap @from_port\n  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def changes(old: Tables, new: Tables) -> str:
    """One transaction taking the kernel from `old` to `new`; empty when they agree."""
    b, out = "bridge overcast", []
    for name, (decl, elems) in sorted(new.sets.items()):
        before = old.sets.get(name)
        if before is None:
            out.append(f"add set {b} {name} {{ {decl}; }}")
        gone = before[1] - elems if before else set()
        added = elems - before[1] if before else elems
        if gone:
            out.append(f"delete element {b} {name} {{ {_elements(sorted(gone))} }}")
        if added:
            out.append(f"add element {b} {name} {{ {_elements(sorted(added))} }}")
    out += [f"add chain {b} {name}" for name in sorted(new.chains) if name not in old.chains]
    for name, rules in sorted(new.chains.items()):
        if old.chains.get(name) != rules:
            if name in old.chains:
                out.append(f"flush chain {b} {name}")
            out += [f"add rule {b} {name} {r}" for r in rules]
    for mapname in ("from_port", "to_port"):
        was, now = getattr(old, mapname), getattr(new, mapname)
        unmapped = [k for k, v in was.items() if now.get(k) != v]
        mapped = {k: v for k, v in now.items() if was.get(k) != v}
        if unmapped:
            keys = _elements(f'"{k}"' for k in sorted(unmapped))
            out.append(f"delete element {b} {mapname} {{ {keys} }}")
        if mapped:
            out.append(f"add element {b} {mapname} {{ {_vmap(mapped)} }}")
    gone_zones = [k for k, v in old.zones.items() if new.zones.get(k) != v]
    added_zones = {k: v for k, v in new.zones.items() if old.zones.get(k) != v}
    if gone_zones:
        keys = _elements(f'"{k}"' for k in sorted(gone_zones))
        out.append(f"delete element inet overcast zones {{ {keys} }}")
    if added_zones:
        out.append(f"add element inet overcast zones {{ {_zonemap(added_zones)} }}")
    # Every chain that goes is emptied before any is deleted: a chain still jumped to by one
    # that goes later in the same transaction cannot be deleted (EBUSY).
    gone_chains = sorted(set(old.chains) - set(new.chains))
    out += [f"flush chain {b} {name}" for name in gone_chains]
    out += [f"delete chain {b} {name}" for name in gone_chains]
    out += [f"delete set {b} {name}" for name in sorted(set(old.sets) - set(new.sets))]
    return "\n".join(out) + "\n" if out else ""
