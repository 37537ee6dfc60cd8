"""Dataplane benchmark: TCP throughput between two guests on one network and from outside to
a guest's floating IP, beside the same transfer between two plain namespaces on a plain bridge,
all measured in the same run (under TCG the guest figures are indicative only); security-group
timings (`sg_change`: a rule change live, `sg_apply`: 1,000 rules on one port and on 100 ports,
see `sgtiming`), and `dhcp_lease`: port binding to a DHCP lease (see `dhcptiming`).

    python bench/dataplane.py --cloud NAME [--megabytes 16 --image overcast-guest
        --flavor m1.tiny --external public --dataplane ocdp --rules 1000 --ports 100
        --repeat 5 --phases plain,floating_ip,guests,sg_change,sg_apply,dhcp_lease]

The guests, their network, router, floating IP and security group are made through the API
(any OpenStack cloud) and deleted at the end. `plain` and `floating_ip` need root on the cloud's
host: they make namespaces of their own (`ocbench…`), and `floating_ip` puts one ("outside")
on the external network's bridge in the dataplane namespace. Each transfer sends N MiB of
zeros over one TCP connection; the receiver times it from connect to EOF. Prints one JSON
object (the other dataplane figures join it as more phases).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import ipaddress
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import dhcptiming
import openstack
import sgtiming

from overcast.common import netns as common_netns
from overcast.network.drivers.linuxbridge import names, netns

PORT = 5001
CHUNK = 1 << 16
# Guest A serves a file of N MiB of zeros over HTTP (busybox httpd); guest B fetches it once
# A answers and prints the byte count and its uptime at start and end (busybox has no
# sub-second clock; /proc/uptime has hundredths).
SERVE = """#!/bin/sh
mkdir -p /tmp/www && dd if=/dev/zero of=/tmp/www/blob bs=65536 count={blocks} 2>/dev/null
httpd -p {port} -h /tmp/www && echo bench-serving
"""
FETCH = """#!/bin/sh
for i in $(seq 300); do
  t0=$(cut -d' ' -f1 /proc/uptime)
  n=$(timeout 300 wget -q -O - http://{address}:{port}/blob | wc -c)
  t1=$(cut -d' ' -f1 /proc/uptime)
  if [ "$n" -eq {size} ]; then echo "bench-result bytes=$n start=$t0 end=$t1"; break; fi
  echo "bench-partial bytes=$n"
  sleep 1
done
"""
RESULT = re.compile(r"bench-result bytes=(\d+) start=([\d.]+) end=([\d.]+)")


def mbit(size: int, seconds: float) -> dict[str, float]:
    return {
        "bytes": size,
        "seconds": round(seconds, 3),
        "mbit_s": round(size * 8 / seconds / 1e6, 1),
    }


def fetch(namespace: str, address: str) -> dict[str, float]:
    """From inside `namespace`: connect, ask for the file (the plain server ignores it), read
    to EOF, and time it. Counted: the bytes after the HTTP head, if any."""

    def run() -> dict[str, float]:
        started = time.perf_counter()
        with socket.create_connection((address, PORT), timeout=30) as sock:
            sock.sendall(b"GET /blob HTTP/1.0\r\n\r\n")
            got, head = 0, b""
            while chunk := sock.recv(1 << 20):
                if len(head) < 4096 and b"\r\n\r\n" not in head:
                    head += chunk[:4096]
                got += len(chunk)
        if head.startswith(b"HTTP/"):
            got -= head.index(b"\r\n\r\n") + 4
        return mbit(got, time.perf_counter() - started)

    return common_netns.call_in(namespace, run)


def serve_once(namespace: str, address: str, size: int) -> threading.Thread:
    """A thread serving `size` bytes (no HTTP head) to one connection, its socket listening in
    `namespace`."""

    def listening() -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, PORT))
        sock.listen(1)
        return sock

    sock = common_netns.call_in(namespace, listening)

    def run() -> None:
        with sock:
            conn, _ = sock.accept()
            with conn:
                conn.recv(4096)  # the request (unread data would reset the connection)
                block = b"\0" * CHUNK
                for _ in range(size // CHUNK):
                    conn.sendall(block)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def host_on(dataplane: str, bridge: str, address: str, made: list[str]) -> str:
    """A namespace with `address` (a/prefix) on a veth into `bridge` of `dataplane`."""
    name = f"ocbench{uuid.uuid4().hex[:8]}"
    await netns.ensure(name)
    made.append(name)
    async with netns.ipr(dataplane) as dp:
        peer = f"ocbv{uuid.uuid4().hex[:8]}"
        await netns.veth(dp, peer, name, "eth0")
        master = (await dp.link_lookup(ifname=bridge))[0]
        await dp.link("set", ifname=peer, master=master, state="up")
    async with netns.ipr(name) as ip:
        interface = ipaddress.ip_interface(address)
        await ip.link("set", ifname="eth0", state="up")
        index = (await ip.link_lookup(ifname="eth0"))[0]
        await ip.addr("add", index=index, address=str(interface.ip),
                      prefixlen=interface.network.prefixlen)  # fmt: skip
    return name


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.size = args.megabytes << 20
        self._conn: openstack.connection.Connection | None = None
        self.prefix = f"bench-{uuid.uuid4().hex[:6]}"
        self.made: list[str] = []  # namespaces
        self.cleanup: list[Callable[[], Any]] = []
        self.serving: Any = None  # guest A and its floating IP

    @property
    def conn(self) -> openstack.connection.Connection:
        if self._conn is None:
            self._conn = openstack.connect(cloud=self.args.cloud)
        return self._conn

    # -- plain namespaces -----------------------------------------------------------------

    async def plain(self) -> dict[str, Any]:
        """Two namespaces on a bridge in a namespace of the bench's own."""
        dataplane = f"ocbench{uuid.uuid4().hex[:8]}"
        await netns.ensure(dataplane)
        self.made.append(dataplane)
        async with netns.ipr(dataplane) as ip:
            await ip.link("add", ifname="ocbbench", kind="bridge")
            await ip.link("set", ifname="ocbbench", state="up")
        sender = await host_on(dataplane, "ocbbench", "10.255.0.1/24", self.made)
        receiver = await host_on(dataplane, "ocbbench", "10.255.0.2/24", self.made)
        thread = serve_once(sender, "10.255.0.1", self.size)
        result = await asyncio.to_thread(fetch, receiver, "10.255.0.1")
        thread.join()
        return result

    # -- guests ---------------------------------------------------------------------------

    def _network(self) -> tuple[Any, Any]:
        net = self.conn.network.create_network(name=self.prefix)
        self.cleanup.append(lambda: self.conn.network.delete_network(net))
        subnet = self.conn.network.create_subnet(
            network_id=net.id, ip_version=4, cidr="10.254.0.0/24", name=self.prefix
        )
        external = self.conn.network.find_network(self.args.external)
        router = self.conn.network.create_router(
            name=self.prefix, external_gateway_info={"network_id": external.id}
        )
        self.conn.network.add_interface_to_router(router, subnet=subnet.id)
        self.cleanup.append(lambda: self.conn.network.delete_router(router))
        self.cleanup.append(
            lambda: self.conn.network.remove_interface_from_router(router, subnet=subnet.id)
        )
        group = self.conn.network.create_security_group(name=self.prefix)
        self.cleanup.append(lambda: self.conn.network.delete_security_group(group))
        self.conn.network.create_security_group_rule(
            security_group_id=group.id, direction="ingress", protocol="tcp",
            port_range_min=PORT, port_range_max=PORT, remote_ip_prefix="0.0.0.0/0",
        )  # fmt: skip
        return net, group

    def _boot(self, name: str, script: str, net: Any, group: Any) -> Any:
        image = self.conn.image.find_image(self.args.image)
        flavor = self.conn.compute.find_flavor(self.args.flavor)
        server = self.conn.compute.create_server(
            name=f"{self.prefix}-{name}", image_id=image.id, flavor_id=flavor.id,
            networks=[{"uuid": net.id}], security_groups=[{"name": group.name}],
            user_data=base64.b64encode(script.encode()).decode(),
        )  # fmt: skip
        self.cleanup.append(lambda: self._delete_server(server))
        return self.conn.compute.wait_for_server(server, wait=self.args.boot_timeout)

    def _delete_server(self, server: Any) -> None:
        """Deleted and gone (its ports with it), so that its group can go next."""
        self.conn.compute.delete_server(server)
        self.conn.compute.wait_for_delete(server, wait=self.args.boot_timeout)

    def _serving(self) -> tuple[Any, Any, Any]:
        """Guest A (serving), with a floating IP; made once for both guest phases."""
        if self.serving is None:
            net, group = self._network()
            script = SERVE.format(blocks=self.size // CHUNK, port=PORT)
            guest = self._boot("a", script, net, group)
            (port,) = self.conn.network.ports(device_id=guest.id)
            external = self.conn.network.find_network(self.args.external)
            fip = self.conn.network.create_ip(floating_network_id=external.id, port_id=port.id)
            self.cleanup.append(lambda: self.conn.network.delete_ip(fip))
            self.serving = (guest, fip, (net, group))
        return self.serving

    async def floating_ip(self) -> dict[str, Any]:
        """From an outside namespace on the external bridge to guest A's floating IP."""
        guest, fip, _ = self._serving()
        external = self.conn.network.find_network(self.args.external)
        subnet = self.conn.network.get_subnet(external.subnet_ids[0])
        cidr = ipaddress.ip_network(subnet.cidr)
        outside = await host_on(
            self.args.dataplane, names.bridge(external.id),
            f"{cidr.broadcast_address - 1}/{cidr.prefixlen}", self.made,
        )  # fmt: skip
        deadline = time.monotonic() + self.args.boot_timeout
        while True:  # until the guest's server loop answers
            try:
                return await asyncio.to_thread(fetch, outside, fip.floating_ip_address)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)

    async def guests(self) -> dict[str, Any]:
        """Guest B fetches from guest A on their network."""
        guest, _, (net, group) = self._serving()
        (port,) = self.conn.network.ports(device_id=guest.id)
        script = FETCH.format(address=port.fixed_ips[0]["ip_address"], port=PORT, size=self.size)
        fetcher = self._boot("b", script, net, group)
        deadline = time.monotonic() + self.args.boot_timeout
        while time.monotonic() < deadline:
            found = RESULT.search(self.conn.compute.get_server_console_output(fetcher)["output"])
            if found:
                size, start, end = int(found[1]), float(found[2]), float(found[3])
                return mbit(size, max(end - start, 0.01))
            await asyncio.sleep(2)
        raise RuntimeError("guest B never reported its transfer")

    # -- security groups ------------------------------------------------------------------

    async def sg_change(self) -> dict[str, Any]:
        return await asyncio.to_thread(sgtiming.sg_change, self)

    async def sg_apply(self) -> dict[str, Any]:
        return await asyncio.to_thread(sgtiming.sg_apply, self)

    async def sg_local(self) -> dict[str, Any]:
        return await sgtiming.sg_local(self)

    # -- DHCP ---------------------------------------------------------------------------

    async def dhcp_lease(self) -> dict[str, Any]:
        return await asyncio.to_thread(dhcptiming.dhcp_lease, self)

    async def close(self) -> None:
        for action in reversed(self.cleanup):
            try:
                action()
            except openstack.exceptions.SDKException as exc:
                print(f"cleanup: {exc}", file=sys.stderr)
        for name in self.made:
            await netns.delete(name)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    bench = Bench(args)
    result: dict[str, Any] = {"megabytes": args.megabytes}
    try:
        for phase in args.phases.split(","):
            started = time.perf_counter()
            try:
                result[phase] = await getattr(bench, phase)()
            except (OSError, RuntimeError, openstack.exceptions.SDKException) as exc:
                result[phase] = {"error": str(exc)}
            print(json.dumps({phase: result[phase], "s": round(time.perf_counter() - started, 1)}),
                  file=sys.stderr, flush=True)  # fmt: skip
    finally:
        await bench.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud", required=True)
    parser.add_argument("--megabytes", type=int, default=16)
    parser.add_argument("--image", default="overcast-guest")
    parser.add_argument("--flavor", default="m1.tiny")
    parser.add_argument("--external", default="public")
    parser.add_argument("--dataplane", default=names.DEFAULT_NAMESPACE)
    parser.add_argument("--boot-timeout", type=float, default=600)
    parser.add_argument("--rules", type=int, default=1000, help="sg_apply: rules in the group")
    parser.add_argument("--ports", type=int, default=100, help="sg_apply: ports at once")
    parser.add_argument("--repeat", type=int, default=5, help="sg_change, dhcp_lease: repeats")
    parser.add_argument(
        "--phases", default="plain,floating_ip,guests,sg_change,sg_apply,dhcp_lease"
    )
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
