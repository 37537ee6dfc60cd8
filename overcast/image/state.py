"""What the image service's API and domain share for the life of the process."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from dataclasses import dataclass, field
from typing import Any

from overcast.common.config import Settings
from overcast.common.db.session import Database
from overcast.common.http.policy import Policy
from overcast.image import quota, schemas
from overcast.image.stores import Stores


@dataclass
class ImageState:
    settings: Settings
    db: Database
    policy: Policy
    stores: Stores
    endpoint: str  # this service's public URL, as in the catalog
    host: str = field(default_factory=socket.gethostname)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def __post_init__(self) -> None:
        hashlib.new(self.settings.image.hashing_algorithm)  # refuse a bad setting at start
        self.schema = schemas.image(self.settings.image)
        self.limits = quota.Limits.of(self.settings.image)

    @property
    def import_methods(self) -> list[str]:
        return ["glance-direct", "web-download", "copy-image"]

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Run `coro` in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task
