"""A guest's NICs on the network dataplane, as os-vif plugs them for Nova: each tap is opened
inside the dataplane namespace the port binding names (`vif_details["namespace"]`) and its fd
handed to QEMU (`-netdev tap,fd=N`, or QMP `getfd` when hot-plugging), so QEMU, which stays in
the root namespace, never makes a tap there. The network agent makes the tap and puts it on its
network's bridge; a tap opened first is made here and wired by the agent's next pass.

A binding with no namespace (the `noop` network driver) gets a hub port: the guest sees its
NIC and MAC, and nothing on the host carries its packets. Called by `guest.Guest.start` and the
driver's interface hot-plug and diagnostics.
"""

from __future__ import annotations

import asyncio
import os

from pyroute2 import IPRoute

from overcast.common import errors, netns
from overcast.compute.drivers.qemu.launch import Nic


async def open_taps(nics: list[Nic]) -> dict[str, int]:
    """An fd per namespaced NIC, by NIC id; the caller closes them (`close`) once QEMU has them."""
    fds: dict[str, int] = {}
    try:
        for nic in nics:
            if nic.namespace and nic.tap:
                fds[nic.id] = await asyncio.to_thread(netns.open_tap, nic.namespace, nic.tap)
    except OSError as exc:
        close(fds)
        raise errors.OvercastError(f"cannot open the tap of port {nic.port_id}: {exc}") from exc
    return fds


def close(fds: dict[str, int]) -> None:
    for fd in fds.values():
        os.close(fd)


_STATS = {"rx_octets": "rx_bytes", "rx_packets": "rx_packets", "tx_octets": "tx_bytes",
          "tx_packets": "tx_packets", "rx_errors": "rx_errors", "tx_errors": "tx_errors",
          "rx_drop": "rx_dropped", "tx_drop": "tx_dropped"}  # fmt: skip


def _read_stats(tap: str) -> dict[str, int]:
    with IPRoute() as ip:
        links = ip.get_links(ifname=tap)
    stats = links[0].get("IFLA_STATS64") if links else None
    return {key: int(stats.get(stat, 0)) if stats else 0 for key, stat in _STATS.items()}


async def stats(nic: Nic) -> dict[str, int]:
    """The tap's counters (zeros when it has none: a hub port, or the tap is gone)."""
    if not nic.namespace or not nic.tap:
        return dict.fromkeys(_STATS, 0)
    tap, namespace = nic.tap, nic.namespace
    try:
        return await netns.run_in(namespace, lambda: _read_stats(tap))
    except OSError:
        return dict.fromkeys(_STATS, 0)
