"""Stateful filtering: replies pass, established flows outlive rule changes that still allow
them, and a removed rule (or a remote group member gone) cuts the flows it allowed; remote
groups follow their members; stateless groups need rules both ways."""

from __future__ import annotations

import dataclasses

from overcast.network.drivers import SecurityGroup
from tests.network.firewall.conftest import EGRESS_ALL, Lab, group, rule

SSH = rule(protocol="tcp", low=22, high=22)
WEB = rule(protocol="tcp", low=80, high=80)


async def test_a_flow_lives_while_a_rule_allows_it_and_is_cut_when_none_does(lab: Lab) -> None:
    net = lab.network()
    ga = group(*EGRESS_ALL)
    gb = group(SSH, WEB, *EGRESS_ALL)
    a = lab.guest(net, 2, (ga.id,))
    b = lab.guest(net, 3, (gb.id,))
    b.serve("tcp:22", "tcp:80")
    await lab.apply([a.port, b.port], [ga, gb])
    held = a.hold(b.ip4, 22)
    other = a.hold(b.ip4, 80)
    assert held.alive() and other.alive()

    await lab.firewall.refresh([dataclasses.replace(gb, rules=(SSH, *EGRESS_ALL))])
    assert held.alive()
    assert not other.alive()
    assert not a.probe("tcp", b.ip4, 80)

    wide = rule(protocol="tcp", low=1, high=1024, prefix="10.77.0.0/24")
    await lab.firewall.refresh([dataclasses.replace(gb, rules=(wide, *EGRESS_ALL))])
    assert held.alive()  # another rule allows it now
    await lab.firewall.refresh([dataclasses.replace(gb, rules=EGRESS_ALL)])
    assert not held.alive()
    assert not a.probe("tcp", b.ip4, 22)


async def test_remote_group_follows_its_members(lab: Lab) -> None:
    net = lab.network()
    friends = group(*EGRESS_ALL)
    a = lab.guest(net, 2, (friends.id,))
    c = lab.guest(net, 4, (friends.id,))
    ssh_from_friends = (
        rule(protocol="tcp", low=22, high=22, remote=friends.id),
        rule(ethertype="IPv6", protocol="tcp", low=22, high=22, remote=friends.id),
    )
    gb = group(*ssh_from_friends, *EGRESS_ALL)
    b = lab.guest(net, 3, (gb.id,))
    b.serve("tcp:22")

    def members(*who: object) -> SecurityGroup:
        ips = tuple(sorted(ip for g in who for ip in (g.ip4, g.ip6)))  # type: ignore[attr-defined]
        return dataclasses.replace(friends, member_ips=ips)

    await lab.apply([a.port, b.port, c.port], [members(a), gb])
    assert a.probe("tcp", b.ip4, 22) and a.probe("tcp", b.ip6, 22)
    assert not c.probe("tcp", b.ip4, 22) and not c.probe("tcp", b.ip6, 22)

    await lab.firewall.refresh([members(a, c)])
    assert c.probe("tcp", b.ip4, 22) and c.probe("tcp", b.ip6, 22)
    held = a.hold(b.ip4, 22)
    kept = c.hold(b.ip4, 22)
    assert held.alive() and kept.alive()
    await lab.firewall.refresh([members(c)])
    assert not held.alive()
    assert kept.alive()
    assert not a.probe("tcp", b.ip4, 22)
    # A member's address pair (a CIDR) is the group's too.
    paired = dataclasses.replace(members(c), member_ips=(c.ip4, c.ip6, "10.77.0.0/30"))
    await lab.firewall.refresh([paired])
    assert a.probe("tcp", b.ip4, 22)
    assert kept.alive()


async def test_stateless_groups_need_the_replies_allowed(lab: Lab) -> None:
    net = lab.network()
    ga = group(*EGRESS_ALL, rule(), stateful=False)
    gb = group(SSH, stateful=False)
    a = lab.guest(net, 2, (ga.id,))
    b = lab.guest(net, 3, (gb.id,))
    b.serve("tcp:22")
    await lab.apply([a.port, b.port], [ga, gb])
    assert not a.probe("tcp", b.ip4, 22)  # b's replies are egress nothing allows
    await lab.firewall.refresh([dataclasses.replace(gb, rules=(SSH, rule("egress")))])
    assert a.probe("tcp", b.ip4, 22)
