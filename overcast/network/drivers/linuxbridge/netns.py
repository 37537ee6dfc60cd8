"""Namespaces and links of the linuxbridge dataplane through pyroute2 (netlink, never parsed
`ip` output): make and remove namespaces, open a netlink socket inside one, make veth pairs
that cross namespaces. Called by the driver's bridge, DHCP, router and firewall modules.

pyroute2's asyncio core cannot run on uvloop (the server's loop: it refuses netlink sockets),
so its synchronous IPRoute runs on one worker thread of its own, with a plain asyncio loop,
and `Rtnl` awaits its calls from the server's loop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pyroute2 import IPRoute, NetlinkError
from pyroute2 import netns as pyroute_netns

from overcast.common import netns as common_netns
from overcast.network.drivers import DriverError
from overcast.network.drivers.linuxbridge import names

run_in = common_netns.run_in
exists = common_netns.exists
T = TypeVar("T")
_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netlink")


async def _run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    call = functools.partial(fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_WORKER, call)


class Rtnl:
    """An IPRoute inside one namespace whose methods (`link`, `addr`, `fdb`, `route`,
    `link_lookup`...) are awaited; dumps come back whole, as tuples."""

    def __init__(self, name: str | None) -> None:
        self._loop = asyncio.SelectorEventLoop()
        self._ipr = IPRoute(netns=name, flags=0, use_event_loop=self._loop)

    def __getattr__(self, attr: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self._ipr, attr)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await _run(method, *args, **kwargs)

        return call

    def close(self) -> None:
        self._ipr.close()
        self._loop.close()


def listing() -> list[str]:
    """The namespaces Overcast made (their names start with `oc`)."""
    return sorted(n for n in pyroute_netns.listnetns() if n.startswith(names.PREFIX))


# One lock a namespace name and event loop (a lock waited on is bound to its loop).
_making: dict[tuple[int, str], asyncio.Lock] = {}


async def ensure(name: str) -> None:
    """Make namespace `name` if it is missing, with its loopback up. Idempotent, and safe to
    call at once from several agents of one process (the fake hosts' network agents share the
    dataplane's namespace: a second create of it would find its mount point taken)."""
    if not name.startswith(names.PREFIX):
        raise ValueError(f"namespace {name!r} is not Overcast's")
    key = (id(asyncio.get_running_loop()), name)
    async with _making.setdefault(key, asyncio.Lock()):
        if not exists(name):
            await asyncio.to_thread(pyroute_netns.create, name)
    async with ipr(name) as ip:
        await ip.link("set", ifname="lo", state="up")


async def delete(name: str) -> None:
    """Remove namespace `name` (its links go with it). Removing a missing one succeeds."""
    if exists(name):
        await asyncio.to_thread(pyroute_netns.remove, name)


@contextlib.asynccontextmanager
async def ipr(name: str | None) -> AsyncIterator[Any]:
    """A netlink (rtnl) socket inside namespace `name`, which must exist (None: the host's
    own, the one this process runs in)."""
    if name is not None and not exists(name):
        raise DriverError(f"namespace {name} does not exist")
    ip = await _run(Rtnl, name)
    try:
        yield ip
    finally:
        await _run(ip.close)


async def links(ip: Any) -> dict[str, Any]:
    """Every link of the namespace `ip` speaks to, by name."""
    return {link.get("ifname"): link for link in await ip.link("dump")}


def kind(link: Any) -> str | None:
    return link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND")  # type: ignore[no-any-return]


async def veth(ip: Any, name: str, peer_namespace: str, peer: str) -> None:
    """A veth pair: `name` in `ip`'s namespace, `peer` moved into `peer_namespace`."""
    try:
        await ip.link("add", ifname=name, kind="veth", peer={"ifname": peer})
        await ip.link("set", ifname=peer, net_ns_fd=peer_namespace)
    except NetlinkError as exc:
        raise DriverError(f"veth {name}/{peer}: {exc}") from exc


async def delete_link(ip: Any, name: str) -> None:
    """Remove a link; a missing one is fine."""
    with contextlib.suppress(NetlinkError):
        await ip.link("del", ifname=name)
