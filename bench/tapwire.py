"""Frames on a guest's tap, for the dataplane bench (run as a script beside it: imported as
`tapwire`): the bench opens the taps of ports bound on this host inside the dataplane
namespace (as QEMU would) and plays the guests, sending TCP SYNs from one and watching for
them on the other, so that what a security group lets through is seen without booting guests."""

from __future__ import annotations

import ipaddress
import os
import select
import struct

from overcast.common import netns

VNET_HDR = bytes(10)  # the taps are opened with IFF_VNET_HDR: a virtio header, no offloads


def _sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def syn(src_mac: str, dst_mac: str, src: str, dst: str, sport: int, dport: int) -> bytes:
    """An Ethernet frame carrying a TCP SYN, checksums right (conntrack checks them)."""
    s, d = ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x02, 64240, 0, 0)
    tcp = (
        tcp[:16]
        + struct.pack("!H", _sum(s + d + struct.pack("!BBH", 0, 6, len(tcp)) + tcp))
        + tcp[18:]
    )
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), sport, 0, 64, 6, 0, s, d)
    ip = ip[:10] + struct.pack("!H", _sum(ip)) + ip[12:]
    eth = bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex(src_mac.replace(":", ""))
    return eth + b"\x08\x00" + ip + tcp


class Tap:
    def __init__(self, namespace: str, name: str) -> None:
        self.fd = netns.open_tap(namespace, name)
        os.set_blocking(self.fd, False)

    def send(self, frame: bytes) -> None:
        os.write(self.fd, VNET_HDR + frame)

    def syn_ports(self, dst: str, dport: int, wait: float = 0.0) -> list[int]:
        """Source ports of the SYNs to `dst`:`dport` that reached this tap (waiting up to
        `wait` seconds for the first)."""
        found: list[int] = []
        want = ipaddress.IPv4Address(dst).packed
        while select.select([self.fd], [], [], wait)[0]:
            wait = 0.0
            frame = os.read(self.fd, 65536)[len(VNET_HDR) :]
            if len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
                continue
            header = (frame[14] & 0x0F) * 4
            sport, got = struct.unpack("!HH", frame[14 + header : 18 + header])
            if frame[30:34] == want and got == dport:
                found.append(sport)
        return found

    def close(self) -> None:
        os.close(self.fd)
