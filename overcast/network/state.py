"""What the network service's API, domain and agent share for the life of the process."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from overcast.common.bus import Bus
from overcast.common.config import Settings
from overcast.common.db.session import Database
from overcast.common.http.policy import Policy
from overcast.network import segments


@dataclass
class NetworkState:
    settings: Settings
    db: Database
    bus: Bus
    policy: Policy
    endpoint: str  # this service's public URL, as in the catalog
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.ranges = segments.Ranges.of(self.settings.network)
        self.rules = frozenset(self.policy.rules)  # which attribute rules exist

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Run `coro` in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task
