"""Each kind of security-group rule, enforced by the firewall on veth "taps" on a bridge:
default deny inbound, protocols and port ranges, ICMP type and code, prefixes, IPv6, egress."""

from __future__ import annotations

from tests.network.firewall.conftest import EGRESS_ALL, Lab, group, rule


async def test_default_deny_then_each_rule_kind_opens_only_its_traffic(lab: Lab) -> None:
    net = lab.network()
    ga = group(*EGRESS_ALL)
    a = lab.guest(net, 2, (ga.id,))
    b = lab.guest(net, 3)
    b.serve("tcp:22", "tcp:85", "tcp:99", "udp:53")

    async def rules(*extra: object) -> None:
        gb = group(*EGRESS_ALL, *extra, gid="b0000000-0000-0000-0000-000000000000")  # type: ignore[arg-type]
        await lab.apply(
            [a.port, b.port.__class__(**{**b.port.__dict__, "security_groups": (gb.id,)})], [ga, gb]
        )

    await rules()
    assert not a.probe("tcp", b.ip4, 22)
    assert not a.probe("udp", b.ip4, 53)
    assert not a.probe("ping", b.ip4)
    assert not a.probe("tcp", b.ip6, 22)

    await rules(rule(protocol="tcp", low=22, high=22))
    assert a.probe("tcp", b.ip4, 22)
    assert not a.probe("tcp", b.ip4, 85)
    assert not a.probe("udp", b.ip4, 53)
    assert not a.probe("tcp", b.ip6, 22)  # an IPv4 rule

    await rules(rule(protocol="tcp", low=80, high=90), rule(protocol="udp", low=53, high=53))
    assert a.probe("tcp", b.ip4, 85)
    assert not a.probe("tcp", b.ip4, 99)
    assert not a.probe("tcp", b.ip4, 22)  # that rule is gone
    assert a.probe("udp", b.ip4, 53)

    await rules(rule(protocol="icmp", low=8, high=0))
    assert a.probe("ping", b.ip4)
    assert not a.probe("tcp", b.ip4, 85)
    await rules(rule(protocol="icmp", low=13))  # timestamp requests only
    assert not a.probe("ping", b.ip4)
    await rules(rule(protocol="1"))  # any ICMP, by number
    assert a.probe("ping", b.ip4)

    await rules(rule(ethertype="IPv6", protocol="tcp", low=22, high=22))
    assert a.probe("tcp", b.ip6, 22)
    assert not a.probe("tcp", b.ip4, 22)
    assert not a.probe("ping", b.ip6)
    await rules(rule(ethertype="IPv6", protocol="ipv6-icmp", low=128))
    assert a.probe("ping", b.ip6)
    await rules(rule(ethertype="IPv6", protocol="icmp"))  # "icmp" on IPv6 is ICMPv6
    assert a.probe("ping", b.ip6)

    await rules(rule())  # everything IPv4
    assert a.probe("tcp", b.ip4, 99) and a.probe("udp", b.ip4, 53) and a.probe("ping", b.ip4)
    assert not a.probe("tcp", b.ip6, 99)


async def test_remote_prefix_admits_only_its_sources(lab: Lab) -> None:
    net = lab.network()
    egress = group(*EGRESS_ALL)
    a = lab.guest(net, 2, (egress.id,))
    c = lab.guest(net, 5, (egress.id,))
    gb = group(rule(protocol="tcp", low=22, high=22, prefix="10.77.0.4/30"),
               rule(ethertype="IPv6", protocol="tcp", low=22, high=22, prefix="fd77::2/128"))  # fmt: skip
    b = lab.guest(net, 3, (gb.id,))
    b.serve("tcp:22")
    await lab.apply([a.port, b.port, c.port], [egress, gb])
    assert c.probe("tcp", b.ip4, 22)
    assert not a.probe("tcp", b.ip4, 22)
    assert a.probe("tcp", b.ip6, 22)
    assert not c.probe("tcp", b.ip6, 22)


async def test_egress_is_denied_unless_a_rule_allows_it(lab: Lab) -> None:
    net = lab.network()
    open_in = group(rule(), rule(ethertype="IPv6"))
    b = lab.guest(net, 3, (open_in.id,))
    b.serve("tcp:22", "tcp:80")
    out = group(rule("egress", protocol="tcp", low=80, high=80, prefix="10.77.0.3/32"))
    a = lab.guest(net, 2, (out.id,))
    await lab.apply([a.port, b.port], [open_in, out])
    assert a.probe("tcp", b.ip4, 80)
    assert not a.probe("tcp", b.ip4, 22)
    assert not a.probe("ping", b.ip4)
    assert not a.probe("tcp", b.ip6, 80)
    # b's replies to a are a's established flow, and b may open flows to a? a denies inbound.
    a.serve("tcp:22")
    assert not b.probe("tcp", a.ip4, 22)


async def test_a_port_without_groups_passes_nothing_and_port_security_off_passes_all(
    lab: Lab,
) -> None:
    net = lab.network()
    egress = group(*EGRESS_ALL)
    a = lab.guest(net, 2, (egress.id,))
    b = lab.guest(net, 3)
    c = lab.guest(net, 4, port_security=False)
    b.serve("tcp:22")
    c.serve("tcp:22")
    await lab.apply([a.port, b.port, c.port], [egress])
    assert not a.probe("tcp", b.ip4, 22)
    assert not b.probe("tcp", c.ip4, 22)  # b may not send
    assert a.probe("tcp", c.ip4, 22) and a.probe("tcp", c.ip6, 22) and a.probe("ping", c.ip4)
