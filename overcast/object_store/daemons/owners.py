"""Which node does a container's once-per-cluster work (the container syncer, the expirer):
every object node runs those daemons, and each container's share falls to one of them. The
listing is one shared database, so no node is nearer to it than another: the container's name
is placed on the ring like an object's, and the node holding the first device of that
partition (primaries, then handoffs) that answers does the work. A node whose devices do not
answer hands its containers to the next at the others' next pass."""

from __future__ import annotations

import itertools

from overcast.object_store.drivers import DeviceUnavailable
from overcast.object_store.proxy.placement import Placement


class Owners:
    """Which containers are this node's (see the module's docstring). Each device is asked
    once (whether it answers) per instance: make one per pass."""

    def __init__(self, placement: Placement) -> None:
        self.placement = placement
        self.answered: dict[int, bool] = {}  # device id → it answered

    async def mine(self, account: str, container: str) -> bool:
        ring = self.placement.ring
        name_hash = ring.hash_of(account, container)
        part = ring.partition(name_hash)
        for node in itertools.chain(ring.primaries(part), ring.handoffs(part)):
            if node.id not in self.answered:
                try:
                    await self.placement.server(node).head(node.device, part, name_hash)
                    self.answered[node.id] = True
                except DeviceUnavailable:
                    self.answered[node.id] = False
            if self.answered[node.id]:
                return node.host in self.placement.own
        return False
