"""The backup driver contract: where backups keep their data, as objects in containers (as
Cinder's chunked backup drivers do: Swift, NFS, POSIX). What goes into the objects (chunks,
digests, increments) is decided once, by the agent's `backups` module, for every driver.

`file` keeps objects as files under the backup directory; the object-store service is the
next driver. Objects are written whole (a crash leaves an object or nothing).
"""

from __future__ import annotations

import abc
import importlib
from pathlib import Path

from overcast.common import errors


class BackupDriver(abc.ABC):
    name: str

    def __init__(self, root: Path) -> None:
        self.root = root

    @abc.abstractmethod
    async def put(self, container: str, name: str, data: bytes) -> None:
        """Store `data` as object `name`, replacing it whole. Idempotent."""

    @abc.abstractmethod
    async def get(self, container: str, name: str) -> bytes:
        """The object's data; errors.NotFound when it is not there."""

    @abc.abstractmethod
    async def exists(self, container: str, name: str) -> bool:
        """Whether the object is there."""

    @abc.abstractmethod
    async def delete(self, container: str, prefix: str) -> None:
        """Remove every object whose name starts with `prefix`. Unknown objects succeed."""


def load(name: str, root: Path) -> BackupDriver:
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        raise errors.ServiceUnavailable(f"unknown backup driver {name!r}") from exc
    driver: BackupDriver = module.Driver(root)
    return driver
