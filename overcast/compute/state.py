"""ComputeState: what the compute API's routes and domain functions share (settings, database,
bus, policy and the clients of other services). Built once by `service.ComputeService`."""

from __future__ import annotations

from dataclasses import dataclass, field

from overcast.common.bus import Bus
from overcast.common.config import Settings
from overcast.common.db.session import Database
from overcast.common.http.policy import Policy
from overcast.compute import quotas
from overcast.compute.boot_cache import BootCache
from overcast.compute.remote import Remote


@dataclass
class ComputeState:
    settings: Settings
    db: Database
    bus: Bus
    policy: Policy
    remote: Remote
    quota_turns: quotas.ProjectQueues = field(default_factory=quotas.ProjectQueues)
    boot_cache: BootCache = field(init=False)  # flavors and limits, dropped on a change

    def __post_init__(self) -> None:
        self.boot_cache = BootCache(self.bus)
