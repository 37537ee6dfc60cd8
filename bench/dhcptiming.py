"""The `dhcp_lease` phase of bench/dataplane.py (imported as `dhcptiming` beside it): the time
from a port's binding to a DHCP lease for it. For each of `--repeat` ports on a network of the
bench's own with DHCP, the port is created and bound to the network host as compute binds a
guest's; the bench, as root on that host, opens the port's tap inside the dataplane namespace
(as QEMU would) and plays the guest's DHCP client there: a DISCOVER every 20 ms until an OFFER,
then a REQUEST until the ACK. Reported: seconds from the binding request to the ACK (and to the
port reported ACTIVE), p50 and max, and whether the leased address is the port's.

A real guest adds its boot (under TCG, tens of seconds) before its first DISCOVER; this is the
dataplane's share: wiring the tap, the DHCP host entry and dnsmasq's reload.
"""

from __future__ import annotations

import concurrent.futures as cf
import errno
import ipaddress
import os
import select
import struct
import time
import uuid
from typing import Any

import stats
import tapwire

COOKIE = b"\x63\x82\x53\x63"


def _frame(mac: str, xid: int, kind: int, extra: bytes = b"") -> bytes:
    """A broadcast DHCP message from `mac` (DISCOVER=1, REQUEST=3)."""
    hw = bytes.fromhex(mac.replace(":", ""))
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000,
                        bytes(4), bytes(4), bytes(4), bytes(4), hw, b"", b"")  # fmt: skip
    options = COOKIE + bytes([53, 1, kind]) + extra + b"\xff"
    udp_body = bootp + options
    udp = struct.pack("!HHHH", 68, 67, 8 + len(udp_body), 0) + udp_body
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes(4), b"\xff\xff\xff\xff")  # fmt: skip
    ip = ip[:10] + struct.pack("!H", tapwire._sum(ip)) + ip[12:]
    return b"\xff" * 6 + hw + b"\x08\x00" + ip + udp


def _reply(frame: bytes, xid: int) -> tuple[int, str, bytes] | None:
    """(message type, offered address, server id) of a DHCP reply for `xid`, else None."""
    if len(frame) < 282 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return None
    start = 14 + (frame[14] & 0x0F) * 4 + 8
    bootp = frame[start:]
    if struct.unpack("!I", bootp[4:8])[0] != xid or bootp[236:240] != COOKIE:
        return None
    kind, server, at = 0, b"", 240
    while at < len(bootp) and bootp[at] != 255:
        code, size = bootp[at], bootp[at + 1]
        value = bootp[at + 2 : at + 2 + size]
        kind = value[0] if code == 53 else kind
        server = value if code == 54 else server
        at += 2 + size
    return kind, str(ipaddress.IPv4Address(bootp[16:20])), server


def lease(tap: tapwire.Tap, mac: str, timeout: float) -> str:
    """Play a DHCP client on `tap` until ACKed; the leased address."""
    xid, deadline = int.from_bytes(os.urandom(4), "big"), time.monotonic() + timeout
    request: bytes | None = None
    while time.monotonic() < deadline:
        try:
            tap.send(request or _frame(mac, xid, 1))
        except OSError as exc:  # EIO: the tap is not up yet (the agent has not wired it)
            if exc.errno != errno.EIO:
                raise
        while select.select([tap.fd], [], [], 0.02)[0]:
            got = _reply(os.read(tap.fd, 65536)[len(tapwire.VNET_HDR) :], xid)
            if got is None:
                continue
            kind, address, server = got
            if kind == 2 and request is None:  # OFFER
                wanted = ipaddress.IPv4Address(address).packed
                request = _frame(mac, xid, 3, bytes([50, 4]) + wanted + bytes([54, 4]) + server)
            elif kind == 5:  # ACK
                return address
    raise RuntimeError(f"no DHCP lease for {mac} within {timeout} s")


def dhcp_lease(bench: Any) -> dict[str, Any]:
    conn, args = bench.conn, bench.args
    agents = [a for a in conn.network.agents() if a.agent_type == "Linux bridge agent"]
    if not agents:
        raise RuntimeError("no Linux bridge agent: this phase needs the linuxbridge driver")
    net = conn.network.create_network(name=f"{bench.prefix}-dhcp")
    bench.cleanup.append(lambda: conn.network.delete_network(net))
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.252.0.0/24")
    leases, actives, right = [], [], 0
    for _ in range(args.repeat):
        port = conn.network.create_port(network_id=net.id, name=f"{bench.prefix}-dhcp")
        bench.cleanup.append(lambda port=port: conn.network.delete_port(port, ignore_missing=True))
        started = time.monotonic()
        conn.network.update_port(port, binding_host_id=agents[0].host,
                                 device_owner="compute:bench", device_id=str(uuid.uuid4()))  # fmt: skip
        with cf.ThreadPoolExecutor(1) as pool:
            active = pool.submit(_active, conn, port.id, started, args.boot_timeout)
            tap = tapwire.Tap(args.dataplane, f"oct{port.id[:11]}")
            try:
                address = lease(tap, port.mac_address, args.boot_timeout)
            finally:
                tap.close()
            leases.append((time.monotonic() - started) * 1000)
            actives.append(active.result() * 1000)
        right += address == port.fixed_ips[0]["ip_address"]
    return {
        "ports": args.repeat,
        "binding_to_lease": stats.summary(leases),
        "binding_to_active": stats.summary(actives),
        "leased_the_ports_address": right,
    }


def _active(conn: Any, port_id: str, started: float, timeout: float) -> float:
    """Seconds from `started` until the port is reported ACTIVE."""
    while time.monotonic() - started < timeout:
        if conn.network.get_port(port_id).status == "ACTIVE":
            return time.monotonic() - started
        time.sleep(0.005)
    raise RuntimeError(f"port {port_id} not ACTIVE within {timeout} s")
