"""Which devices a request goes to, and the servers that reach them: a device on this node
(host "local" or this node's own object server URL) through the `local` driver, any other
through an `http` driver to its node, made the first time it is needed.

A request tries the partition's primaries; a primary that is down is replaced by the next
handoff, so a write still lands on `replicas` devices and the replicator moves it home later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from overcast.common import log
from overcast.object_store.drivers import DeviceUnavailable, ObjectServer
from overcast.object_store.ring.ring import Node, Ring

LOG = log.get(__name__)
T = TypeVar("T")


class Placement:
    def __init__(
        self,
        ring: Ring,
        local: ObjectServer,
        remote: Callable[[str], ObjectServer],
        own: frozenset[str] = frozenset({"local"}),
    ) -> None:
        self.ring = ring
        self.local = local
        self.remote = remote  # an object server URL -> a driver reaching it
        self.own = own  # the hosts that mean this node
        self.remotes: dict[str, ObjectServer] = {}

    def server(self, node: Node) -> ObjectServer:
        if node.host in self.own:
            return self.local
        found = self.remotes.get(node.host)
        if found is None:
            found = self.remotes[node.host] = self.remote(node.host)
        return found

    def local_devices(self) -> list[Node]:
        """The devices this node holds: the daemons look after these only, as each node's
        replicator and auditor do in Swift."""
        return [n for n in self.ring.devices() if n.host in self.own]

    async def close(self) -> None:
        for server in [self.local, *self.remotes.values()]:
            await server.close()
        self.remotes = {}

    def locate(self, account: str, container: str, obj: str) -> tuple[str, int]:
        name_hash = self.ring.hash_of(account, container, obj)
        return name_hash, self.ring.partition(name_hash)

    @property
    def quorum(self) -> int:
        return self.ring.replicas // 2 + 1

    async def on_replicas(
        self, part: int, action: Callable[[ObjectServer, Node], Awaitable[T]]
    ) -> list[tuple[Node, T]]:
        """Run `action` on every primary at once; each one that is down is retried on the next
        unused handoff. The (node, result) of every success."""
        handoffs = self.ring.handoffs(part)
        lock = asyncio.Lock()

        async def one(node: Node) -> tuple[Node, T] | None:
            while True:
                try:
                    return node, await action(self.server(node), node)
                except DeviceUnavailable as exc:
                    LOG.warning(
                        "device unavailable",
                        extra={"fields": {"device": node.device, "error": str(exc)}},
                    )
                    async with lock:
                        node_or_none = next(handoffs, None)
                    if node_or_none is None:
                        return None
                    node = node_or_none

        found = await asyncio.gather(*(one(n) for n in self.ring.primaries(part)))
        return [f for f in found if f is not None]
