"""The image store contract (like glance_store's drivers): where image bytes live.

A store knows nothing of images' metadata, HTTP or the database: it writes a stream of bytes
under a key, reads it back, and deletes it. The image service keeps, per image, the store name
and the URL the store returned. Drivers: `file` (here); the object store later.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import ClassVar, Protocol

from overcast.common import errors
from overcast.common.config import Settings
from overcast.common.trace import instrument


@dataclass(frozen=True)
class Capabilities:
    writable: bool = True
    ranged_reads: bool = True  # `read` honours offset/length without reading what precedes


@dataclass(frozen=True)
class Stored:
    url: str  # where the data is, in the store's own scheme (file:///..., swift://...)
    size: int


class Callbacks(Protocol):
    """What a store may ask of the service that owns it (nothing yet but logging)."""

    def warn(self, message: str) -> None: ...


class Writer(abc.ABC):
    """One write in progress. Exactly one of `commit` or `abort` ends it."""

    @abc.abstractmethod
    async def write(self, chunk: bytes | memoryview) -> None:
        """Append `chunk`. Nothing written is visible to `read` before `commit`. The caller
        may reuse `chunk`'s memory once this returns, so keep no reference to it."""

    @abc.abstractmethod
    async def commit(self) -> Stored:
        """Make the bytes durable (fsynced) and visible at their final URL, atomically:
        afterwards a reader sees all of them; before, none."""

    @abc.abstractmethod
    async def abort(self) -> None:
        """Discard what was written. Idempotent; does nothing after `commit`."""


class Store(instrument.TracedCalls, abc.ABC):
    """A place for image data. Constructed with `(settings, name, callbacks)`."""

    driver: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, settings: Settings, name: str, callbacks: Callbacks) -> None:
        self.settings = settings
        self.name = name
        self.callbacks = callbacks

    @abc.abstractmethod
    async def writer(self, key: str) -> Writer:
        """Begin writing the data of `key` (an image id). A committed write replaces any
        earlier data of the same key."""

    @abc.abstractmethod
    def read(self, url: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """The bytes at `url` from `offset`, at most `length` of them, in chunks.
        Raises errors.NotFound (when iterated) if the data is gone."""

    @abc.abstractmethod
    async def delete(self, url: str) -> None:
        """Remove the data at `url`. Deleting data that is already gone succeeds."""

    async def cleanup(self) -> None:  # noqa: B027 - optional hook
        """Remove what interrupted writes left behind. Called once at start."""

    def description(self) -> str:
        return f"{self.driver} store {self.name}"


def load(settings: Settings, name: str, driver: str, callbacks: Callbacks) -> Store:
    """The store `name` using the driver `driver`."""
    if driver == "file":
        from overcast.image.drivers import file

        return file.FileStore(settings, name, callbacks)
    raise errors.NotSupported(f"Unknown image store driver {driver!r} for store {name!r}.")
