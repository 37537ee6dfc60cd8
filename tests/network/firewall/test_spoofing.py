"""Anti-spoofing: a guest sends only from its port's MAC and addresses (allowed address pairs
excepted), may ask for DHCP before it has an address, and may not answer as a DHCP server."""

from __future__ import annotations

import dataclasses

from tests.network.firewall.conftest import EGRESS_ALL, Guest, Lab, group, rule


def forget(*guests: Guest) -> None:
    """Drop neighbour entries that failed while the firewall refused an address (the kernel
    would retry them only a second later)."""
    for guest in guests:
        guest.ip("neigh", "flush", "dev", "eth0")


OPEN = (rule(), rule(ethertype="IPv6"), *EGRESS_ALL)


async def test_another_address_or_mac_is_dropped_unless_an_address_pair_allows_it(
    lab: Lab,
) -> None:
    net = lab.network()
    both = group(*OPEN)
    a = lab.guest(net, 2, (both.id,))
    b = lab.guest(net, 3, (both.id,))
    b.serve("tcp:22")
    await lab.apply([a.port, b.port], [both])
    assert a.probe("tcp", b.ip4, 22) and a.probe("tcp", b.ip6, 22)

    a.ip("addr", "flush", "dev", "eth0")
    a.ip("addr", "add", "10.77.0.9/24", "dev", "eth0")
    a.ip("addr", "add", "fd77::99/64", "dev", "eth0", "nodad")
    assert not a.probe("tcp", b.ip4, 22)
    assert not a.probe("tcp", b.ip6, 22)

    pairs = (("10.77.0.8/29", a.port.mac_address), ("fd77::99", a.port.mac_address))
    await lab.bind(dataclasses.replace(a.port, allowed_address_pairs=pairs), [both])
    forget(a, b)
    assert a.probe("tcp", b.ip4, 22) and a.probe("tcp", b.ip6, 22)

    a.ip("link", "set", "eth0", "address", "fa:16:3e:aa:bb:cc")
    assert not a.probe("tcp", b.ip4, 22)
    pairs += (("10.77.0.9", "fa:16:3e:aa:bb:cc"),)
    await lab.bind(dataclasses.replace(a.port, allowed_address_pairs=pairs), [both])
    forget(a, b)
    assert a.probe("tcp", b.ip4, 22)
    assert not a.probe("tcp", b.ip6, 22)  # fd77::99 is paired with the port's MAC only

    await lab.bind(dataclasses.replace(a.port, port_security=False), [both])
    a.ip("addr", "del", "10.77.0.9/24", "dev", "eth0")
    a.ip("addr", "add", "10.77.0.200/24", "dev", "eth0")
    forget(a, b)
    assert a.probe("tcp", b.ip4, 22)


async def test_dhcp_requests_pass_before_an_address_and_guests_serve_no_dhcp(lab: Lab) -> None:
    net = lab.network()
    both = group(*OPEN)
    a = lab.guest(net, 2, (both.id,))
    c = lab.guest(net, 4, (both.id,))
    server = lab.guest(net, 1, device_owner="network:dhcp")
    await lab.apply([a.port, c.port, server.port], [both])
    dhcp = server.serve("udp:67")
    client = c.serve("udp:68")

    a.ip("addr", "flush", "dev", "eth0")
    a.probe("send", "0.0.0.0", 68, "255.255.255.255", 67)
    assert server.heard(dhcp, 67)

    a.ip("addr", "add", "10.77.0.2/24", "dev", "eth0")
    a.probe("send", "10.77.0.2", 67, "255.255.255.255", 68)
    assert not c.heard(client, 68)
    a.probe("send", "10.77.0.2", 1067, "255.255.255.255", 68)  # the same, not from port 67
    assert c.heard(client, 68)
    a.probe("send", "10.77.0.2", 67, "10.77.0.4", 68)
    assert not c.heard(client, 68)
    server.probe("send", "10.77.0.1", 67, "10.77.0.4", 68)  # the real server may
    assert c.heard(client, 68)
