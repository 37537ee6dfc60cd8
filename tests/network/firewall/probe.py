"""Traffic for the firewall tests, run inside a guest namespace (`python -m ... probe MODE`):
`serve` answers TCP and UDP on the given ports (echo); `tcp`/`udp` try one exchange and print
ok or fail (`connect`: only whether a TCP connection opens); `ping` sends one ICMP(v6) echo; `hold` keeps one TCP connection and, for each
line read on stdin, sends it and prints ok or fail as the echo comes back or not; `send`
emits one UDP datagram from a given source (e.g. DHCP from 0.0.0.0:68)."""

from __future__ import annotations

import os
import select
import socket
import struct
import sys
import threading
import time

TIMEOUT = 0.6


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def serve(specs: list[str]) -> None:
    def tcp(port: int, family: socket.AddressFamily) -> None:
        srv = socket.socket(family, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        srv.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
        srv.listen(16)
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    def echo(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    def udp(port: int, family: socket.AddressFamily) -> None:
        srv = socket.socket(family, socket.SOCK_DGRAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        srv.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
        while True:
            data, peer = srv.recvfrom(4096)
            print(f"got {port} {peer[0]} {data.decode(errors='replace')}", flush=True)
            srv.sendto(data, peer)

    for spec in specs:
        kind, port = spec.split(":")
        for family in (socket.AF_INET, socket.AF_INET6):
            target = tcp if kind == "tcp" else udp
            threading.Thread(target=target, args=(int(port), family), daemon=True).start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


def tcp_once(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=TIMEOUT) as conn:
            conn.sendall(b"x")
            return conn.recv(1) == b"x"
    except OSError:
        return False


def connect(address: str, port: int) -> bool:
    """Whether a TCP connection opens (whatever the server then says)."""
    try:
        with socket.create_connection((address, port), timeout=2 * TIMEOUT):
            return True
    except OSError:
        return False


def udp_once(address: str, port: int) -> bool:
    with socket.socket(_family(address), socket.SOCK_DGRAM) as sock:
        sock.settimeout(TIMEOUT)
        sock.sendto(b"x", (address, port))
        try:
            return sock.recv(16) == b"x"
        except OSError:
            return False


def ping(address: str, icmp_type: int | None = None) -> bool:
    v6 = ":" in address
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    kind = (128 if v6 else 8) if icmp_type is None else icmp_type
    with socket.socket(_family(address), socket.SOCK_RAW, proto) as sock:
        ident = os.getpid() & 0xFFFF
        payload = struct.pack("!BBHHH", kind, 0, 0, ident, 1) + b"overcast"
        if not v6:  # the kernel sums ICMPv6 itself
            total = sum(struct.unpack(f"!{len(payload) // 2}H", payload))
            total = (total >> 16) + (total & 0xFFFF)
            total += total >> 16
            payload = payload[:2] + struct.pack("!H", ~total & 0xFFFF) + payload[4:]
        sock.sendto(payload, (address, 0))
        deadline = time.monotonic() + TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([sock], [], [], left)[0]:
                break
            data = sock.recv(1024)
            body = data if v6 else data[(data[0] & 0x0F) * 4 :]
            reply = 129 if v6 else 0
            if body[0] == reply and struct.unpack("!H", body[4:6])[0] == ident:
                return True
    return False


def hold(address: str, port: int) -> None:
    conn = socket.create_connection((address, port), timeout=TIMEOUT)
    print("connected", flush=True)
    for line in sys.stdin:
        try:
            conn.sendall(line.encode())
            got = b""
            while len(got) < len(line):
                chunk = conn.recv(4096)
                if not chunk:
                    raise OSError("closed")
                got += chunk
            print("ok", flush=True)
        except OSError:
            print("fail", flush=True)


def send(source: str, sport: int, address: str, port: int) -> None:
    with socket.socket(_family(address), socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
        sock.bind((source, sport))
        sock.sendto(b"dhcp", (address, port))


def main() -> None:
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "serve":
        serve(args)
    elif mode == "hold":
        hold(args[0], int(args[1]))
    elif mode == "send":
        send(args[0], int(args[1]), args[2], int(args[3]))
    else:
        check = {"tcp": tcp_once, "udp": udp_once, "connect": connect}
        if mode == "ping":
            ok = ping(args[0], int(args[1]) if len(args) > 1 else None)
        else:
            ok = check[mode](args[0], int(args[1]))
        print("ok" if ok else "fail")


if __name__ == "__main__":
    main()
