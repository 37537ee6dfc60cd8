"""What this host's kernel and rights allow the linuxbridge dataplane: `usable` (root, tun,
namespaces, bridges, veth: `overcast up` picks the driver from it) and `vlan` (802.1q, which
some kernels lack). Each probe works in a namespace of its own that it removes."""

from __future__ import annotations

import asyncio
import os
import shutil

from pyroute2 import NetlinkError

from overcast.network.drivers.linuxbridge import names, netns


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "not running as root"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    for program in ("dnsmasq", "nft"):
        if shutil.which(program) is None:
            return f"{program} is not installed"
    return None


async def usable() -> str | None:
    """None when the driver can run here, else why not."""
    missing = _missing()
    if missing:
        return missing
    name = f"{names.PREFIX}probe{os.getpid()}"
    try:
        await netns.ensure(name)
        async with netns.ipr(name) as ip:
            await ip.link("add", ifname="ocbprobe", kind="bridge")
            await ip.link("add", ifname="ocmprobe", kind="veth", peer={"ifname": "ocnprobe"})
    except (OSError, NetlinkError) as exc:
        return f"cannot make a namespace, bridge and veth: {exc}"
    finally:
        await netns.delete(name)
    return None


async def vlan(namespace: str) -> bool:
    """The kernel can make 802.1q VLAN devices (tried on a bridge in `namespace`)."""
    async with netns.ipr(namespace) as ip:
        try:
            await ip.link("add", ifname="ocvprobe", kind="bridge")
            await ip.link(
                "add", ifname="ocvprobe.1", kind="vlan", vlan_id=1,
                link=(await ip.link_lookup(ifname="ocvprobe"))[0],
            )  # fmt: skip
        except NetlinkError:
            return False
        finally:
            await netns.delete_link(ip, "ocvprobe.1")
            await netns.delete_link(ip, "ocvprobe")
    return True


def run_usable() -> str | None:
    """`usable` for callers outside an event loop (`overcast up` before it starts)."""
    return asyncio.run(usable())
