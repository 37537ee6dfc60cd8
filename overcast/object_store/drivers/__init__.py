"""The object-server contract: what the proxy, replicator, auditor and updater ask of one
node's devices. `local` serves directories in this process; `http` reaches another node's
devices over the same contract (its object server runs `local` there).

Every method names its device; a device that is missing, read-only or failing raises
`DeviceUnavailable`, and the caller moves on to another replica or a handoff. Writes are
durable when they return: data is written to a temporary file, fsynced and renamed into place.
Files are named by timestamp, so every write is idempotent and the newest timestamp wins.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from overcast.common import errors
from overcast.object_store.diskfile import Stored as Stored  # the contract names it
from overcast.object_store.diskfile import trailer


class DeviceUnavailable(errors.ServiceUnavailable):
    """The device is unmounted, read-only or failing: try another."""


@dataclass(frozen=True)
class Capabilities:
    fsync: bool = True
    remote: bool = False


@dataclass
class Pending:
    """A listing update not yet made (Swift's async pending), kept on a device until the
    updater makes it."""

    account: str
    container: str
    name: str
    timestamp: str
    deleted: bool
    size: int = 0
    content_type: str = ""
    etag: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Writer(abc.ABC):
    """One replica being written. `write` in order, then `commit` or `abort` exactly once."""

    @abc.abstractmethod
    async def write(self, chunk: memoryview | bytes) -> None: ...

    @abc.abstractmethod
    async def commit(self, metadata: dict[str, str]) -> None:
        """Append the metadata, fsync, rename into place; durable when it returns."""

    @abc.abstractmethod
    async def abort(self) -> None:
        """Drop what was written. Safe to call after a failed write."""


class ObjectServer(abc.ABC):
    capabilities = Capabilities()

    # -- objects -----------------------------------------------------------------------------

    async def put(
        self,
        device: str,
        part: int,
        name_hash: str,
        timestamp: str,
        data: bytes,
        metadata: dict[str, str],
    ) -> None:
        """Store a whole (small) object at once; durable when it returns."""
        await self.write_file(
            device, part, name_hash, f"{timestamp}.data", data + trailer(metadata)
        )

    @abc.abstractmethod
    async def writer(self, device: str, part: int, name_hash: str, timestamp: str) -> Writer:
        """Start writing a replica whose content streams in."""

    @abc.abstractmethod
    async def head(self, device: str, part: int, name_hash: str, small: int = 0) -> Stored | None:
        """The newest state of the object (with its content if it has at most `small` bytes);
        None when the device has never heard of it."""

    async def newest(
        self, wanted: list[tuple[str, int, str]], small: int = 0
    ) -> tuple[int, Stored] | None:
        """The newest state of one object among replicas on several of this server's devices:
        (its index in `wanted`, the state); None when none has heard of it. Devices that are
        down are passed over. A driver may find it in one go."""

        async def one(device: str, part: int, name_hash: str) -> Stored | None:
            try:
                return await self.head(device, part, name_hash, small)
            except DeviceUnavailable:
                return None

        answers = await asyncio.gather(*(one(*w) for w in wanted))
        found = [(i, a) for i, a in enumerate(answers) if a is not None]
        return max(found, key=lambda f: f[1].order, default=None)

    @abc.abstractmethod
    def read(
        self, device: str, part: int, name_hash: str, timestamp: str, start: int, end: int
    ) -> AsyncIterator[bytes]:
        """Content bytes [start, end) of the data file of `timestamp`."""

    async def delete(
        self, device: str, part: int, name_hash: str, timestamp: str, metadata: dict[str, str]
    ) -> None:
        """Write a tombstone at `timestamp` (older files go)."""
        await self.write_file(device, part, name_hash, f"{timestamp}.ts", trailer(metadata))

    async def post(
        self, device: str, part: int, name_hash: str, timestamp: str, metadata: dict[str, str]
    ) -> None:
        """Replace the object's user metadata as of `timestamp` (a .meta file)."""
        await self.write_file(device, part, name_hash, f"{timestamp}.meta", trailer(metadata))

    # -- replication and audit ---------------------------------------------------------------

    @abc.abstractmethod
    async def partitions(self, device: str) -> list[int]:
        """Partitions the device holds anything of."""

    @abc.abstractmethod
    async def suffix_hashes(self, device: str, part: int) -> dict[str, str]:
        """For each suffix directory of the partition, a hash of the file names below it."""

    async def suffix_hashes_of(self, device: str, parts: list[int]) -> dict[int, dict[str, str]]:
        """`suffix_hashes` of several partitions. A driver may do them in one go."""
        return {part: await self.suffix_hashes(device, part) for part in parts}

    @abc.abstractmethod
    async def suffix_files(self, device: str, part: int, suffix: str) -> dict[str, list[str]]:
        """Object hash → its file names, in one suffix directory."""

    @abc.abstractmethod
    async def read_file(self, device: str, part: int, name_hash: str, filename: str) -> bytes:
        """One whole file of an object's directory, as stored (content and metadata)."""

    @abc.abstractmethod
    async def write_file(
        self, device: str, part: int, name_hash: str, filename: str, raw: bytes
    ) -> None:
        """Store a whole file (content and trailer, as `read_file` gives it), durable when it
        returns; newer files win."""

    async def write_files(
        self, wanted: list[tuple[str, int, str]], filename: str, raw: bytes
    ) -> list[DeviceUnavailable | None]:
        """`write_file` of the same file on several (device, part, name_hash) at once, each
        outcome in its place (None: written). A driver may do them in one go."""

        async def one(device: str, part: int, name_hash: str) -> DeviceUnavailable | None:
            try:
                await self.write_file(device, part, name_hash, filename, raw)
            except DeviceUnavailable as exc:
                return exc
            return None

        return list(await asyncio.gather(*(one(*w) for w in wanted)))

    @abc.abstractmethod
    async def drop_partition(self, device: str, part: int) -> None:
        """Remove a handoff partition once every primary has it."""

    @abc.abstractmethod
    async def audit(
        self, device: str, part: int, name_hash: str, filename: str, reclaim_before: float
    ) -> tuple[bool, int]:
        """Check a data file against its ETag: (sound, bytes read). A file that does not
        match (or cannot be parsed) is moved to quarantine. A tombstone older than
        `reclaim_before` is removed (Swift's reclaim_age)."""

    # -- async pendings ----------------------------------------------------------------------

    @abc.abstractmethod
    async def save_pending(self, device: str, pending: Pending) -> None: ...

    @abc.abstractmethod
    async def pendings(self, device: str, limit: int) -> list[tuple[str, Pending]]: ...

    @abc.abstractmethod
    async def drop_pending(self, device: str, key: str) -> None: ...

    async def recover(self, before: float) -> None:  # noqa: B027 - optional
        """On the node's start: drop what a crash left half-written, last written before
        `before` (a time.time()); a write still streaming in is left alone."""

    async def close(self) -> None:  # noqa: B027 - optional
        """Release threads or connections."""
