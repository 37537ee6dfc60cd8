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

    def by_server(self, nodes: list[Node]) -> list[tuple[ObjectServer, list[Node]]]:
        """`nodes` grouped by the server that reaches them, so each is asked once."""
        groups: dict[int, tuple[ObjectServer, list[Node]]] = {}
        for node in nodes:
            server = self.server(node)
            groups.setdefault(id(server), (server, []))[1].append(node)
        return list(groups.values())

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

    async def write_replicas(
        self, part: int, name_hash: str, filename: str, raw: bytes
    ) -> list[Node]:
        """Write a whole file on every primary, one call per server (a small object, a
        tombstone, a POST's metadata); each device that is down is replaced by the next unused
        handoff, as `on_replicas` does. The nodes that took it."""
        handoffs = self.ring.handoffs(part)
        took: list[Node] = []
        nodes = self.ring.primaries(part)
        while nodes:
            groups = self.by_server(nodes)
            outcomes = await asyncio.gather(
                *(
                    s.write_files([(n.device, part, name_hash) for n in g], filename, raw)
                    for s, g in groups
                )
            )
            nodes = []
            for (_server, group), answers in zip(groups, outcomes, strict=True):
                for node, failure in zip(group, answers, strict=True):
                    if failure is None:
                        took.append(node)
                        continue
                    LOG.warning(
                        "device unavailable",
                        extra={"fields": {"device": node.device, "error": str(failure)}},
                    )
                    handoff = next(handoffs, None)
                    if handoff is not None:
                        nodes.append(handoff)
        return took
