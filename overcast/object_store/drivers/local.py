"""The `local` object server: devices that are directories on this node, served in-process.

Whole small files (an object of up to `SMALL_OBJECT` bytes, a tombstone, a POST's metadata)
are written, and objects' metadata read, by a few child processes, the file processes
(`workers.Processes`): such a call is a few to a dozen system calls, each of which in a thread
would hand the GIL to the event loop and wait to take it back. Other file work (streams,
reads of large content, replication scans) runs in a pool of threads of its own,
sized so that many fsyncs are in flight at once and the filesystem journal commits them
together. See `diskfile` for the format.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from overcast.common import files, workers
from overcast.object_store import diskfile as df
from overcast.object_store.drivers import (
    DeviceUnavailable,
    ObjectServer,
    Pending,
    Stored,
    Writer,
)

T = TypeVar("T")
READ_CHUNK = 1 << 20
WRITE_BEHIND = 8 << 20  # a streaming replica's writeback starts every this many bytes
STABLE_NS = 2_000_000_000  # a partition's mtime this old is not from a change still going on


DEVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # a directory under the root


def init_device(root: Path) -> None:
    """Put a directory in service as a device (idempotent)."""
    for sub in ("objects", "tmp", "async_pending", "quarantined"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / df.MARKER).touch()


class LocalWriter(Writer):
    def __init__(self, server: LocalServer, root: str, target: str, filename: str) -> None:
        self.server = server
        self.root = root
        self.target = target
        self.filename = filename
        self.fd, self.tmp = df.open_tmp(root)
        # Written back as it streams in and dropped from the page cache once on disk, as
        # Swift's object servers do: the commit's fsync has little left to wait for.
        self.behind = files.WriteBehind(WRITE_BEHIND, drop=True)

    async def write(self, chunk: memoryview | bytes) -> None:
        await self.server.run(self._write, chunk)

    def _write(self, chunk: memoryview | bytes) -> None:
        _write_all(self.fd, chunk)
        self.behind.wrote(self.fd, len(chunk))

    async def commit(self, metadata: dict[str, str]) -> None:
        await self.server.run(self._finish, df.trailer(metadata))

    async def seal(self) -> None:
        """Place what was written as it is: a whole file received from elsewhere, which must
        end with a sound trailer (ValueError otherwise; then `abort`)."""
        await self.server.run(self._finish, b"")

    def _finish(self, tail: bytes) -> None:
        if tail:
            _write_all(self.fd, tail)
        else:
            df.parse(self.fd, 0)
        df.place(self.root, self.fd, self.tmp, self.target, self.filename)
        os.close(self.fd)

    async def abort(self) -> None:
        def drop() -> None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            try:
                os.unlink(self.tmp)
            except OSError:
                pass

        await self.server.run(drop)


def _write_all(fd: int, data: memoryview | bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class LocalServer(ObjectServer):
    def __init__(self, devices_root: Path, threads: int = 48, files: int = 8) -> None:
        self.root = devices_root
        self.threads = workers.Threads(threads, "object-io")
        self.files = workers.Processes(files, "object-file")
        # (device root, partition) -> (the partition's mtime, its suffix hashes)
        self.hashes: dict[tuple[str, int], tuple[int, dict[str, str]]] = {}

    def dev(self, device: str) -> str:
        return f"{self.root}/{device}"

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a thread; a device's failure as DeviceUnavailable."""
        return await _checked(self.threads.run(fn, *args))

    async def in_files(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a file process; a device's failure as DeviceUnavailable."""
        return await _checked(self.files.run(fn, *args))

    async def recover(self, before: float) -> None:
        """A temporary file nobody wrote to since `before` is a dead write: a restart never
        renames it."""

        def sweep() -> None:
            for tmp in self.root.glob("*/tmp/*"):
                with contextlib.suppress(FileNotFoundError):  # renamed or dropped meanwhile
                    if tmp.stat().st_mtime < before:
                        tmp.unlink()

        await self.run(sweep)

    async def close(self) -> None:
        self.threads.close()
        await self.files.close()

    # -- objects -----------------------------------------------------------------------------

    async def writer(self, device: str, part: int, name_hash: str, timestamp: str) -> Writer:
        return await self.receive(device, part, name_hash, f"{timestamp}.data")

    async def receive(self, device: str, part: int, name_hash: str, filename: str) -> LocalWriter:
        """Start receiving a whole file (content and trailer) to store as `filename`."""
        root = self.dev(device)
        return await self.run(LocalWriter, self, root, df.hash_dir(root, part, name_hash), filename)

    async def check(self, device: str) -> None:
        """DeviceUnavailable unless the device is in service."""
        await self.run(df.check_device, self.dev(device))

    async def head(self, device: str, part: int, name_hash: str, small: int = 0) -> Stored | None:
        """In the event loop, as `newest`."""
        with _as_unavailable():
            return df.head(self.dev(device), part, name_hash, small)

    async def newest(
        self, wanted: list[tuple[str, int, str]], small: int = 0
    ) -> tuple[int, Stored] | None:
        """In the event loop: a few system calls on directories and files the page cache
        holds, cheaper than handing them to a file process and waiting for its answer."""
        targets = [(self.dev(d), part, name_hash) for d, part, name_hash in wanted]
        return df.newest_of(targets, small)

    async def read(
        self, device: str, part: int, name_hash: str, timestamp: str, start: int, end: int
    ) -> AsyncIterator[bytes]:
        root = self.dev(device)
        path = f"{df.hash_dir(root, part, name_hash)}/{timestamp}.data"
        fd = await self.run(os.open, path, os.O_RDONLY)
        try:
            offset = start
            while offset < end:
                chunk = await self.run(os.pread, fd, min(READ_CHUNK, end - offset), offset)
                if not chunk:
                    raise DeviceUnavailable(f"{path} is shorter than its metadata says")
                offset += len(chunk)
                yield chunk
        finally:
            os.close(fd)

    async def partitions(self, device: str) -> list[int]:
        def scan() -> list[int]:
            root = self.dev(device)
            df.check_device(root)
            return sorted(int(p) for p in os.listdir(f"{root}/objects") if p.isdigit())

        return await self.run(scan)

    async def suffix_hashes(self, device: str, part: int) -> dict[str, str]:
        return (await self.suffix_hashes_of(device, [part]))[part]

    async def suffix_hashes_of(self, device: str, parts: list[int]) -> dict[int, dict[str, str]]:
        """In one call to a file process (a replication pass asks of every partition).
        Hashes are reused while the partition's mtime stays what it was (every change of an
        object's files touches it: `diskfile.changed`), and kept only once that mtime is two
        seconds old, so a change made in the same clock tick as the listing is never missed
        (as Git treats racily clean files)."""
        root = self.dev(device)
        known = {p: self.hashes[(root, p)][0] for p in parts if (root, p) in self.hashes}
        found = await self.in_files(df.partition_hashes, root, parts, known)
        now = time.time_ns()
        out: dict[int, dict[str, str]] = {}
        for part, (mtime, hashes) in found.items():
            if mtime is None:  # no such partition here
                self.hashes.pop((root, part), None)
                out[part] = {}
            elif hashes is None:  # unchanged since cached
                out[part] = dict(self.hashes[(root, part)][1])
            else:
                if now - mtime > STABLE_NS:
                    self.hashes[(root, part)] = (mtime, hashes)
                out[part] = hashes
        return out

    async def suffix_files(self, device: str, part: int, suffix: str) -> dict[str, list[str]]:
        def scan() -> dict[str, list[str]]:
            base = f"{self.dev(device)}/objects/{part}/{suffix}"
            out = {}
            for name_hash in df.listdir(base):
                names = sorted(
                    n for n in df.listdir(f"{base}/{name_hash}") if not n.endswith(".tmp")
                )
                if names:
                    out[name_hash] = names
            return out

        return await self.run(scan)

    async def read_file(self, device: str, part: int, name_hash: str, filename: str) -> bytes:
        path = f"{df.hash_dir(self.dev(device), part, name_hash)}/{filename}"
        return await self.run(Path(path).read_bytes)

    async def write_file(
        self, device: str, part: int, name_hash: str, filename: str, raw: bytes
    ) -> None:
        (outcome,) = await self.write_files([(device, part, name_hash)], filename, raw)
        if outcome is not None:
            raise outcome

    async def write_files(
        self, wanted: list[tuple[str, int, str]], filename: str, raw: bytes
    ) -> list[DeviceUnavailable | None]:
        """In one call to a file process, the devices one after another."""
        targets = [(self.dev(d), part, name_hash) for d, part, name_hash in wanted]
        return _in_place(await self.in_files(df.write_replicas, targets, filename, raw))

    async def drop_partition(self, device: str, part: int) -> None:
        await self.run(shutil.rmtree, f"{self.dev(device)}/objects/{part}", True)

    async def audit(
        self, device: str, part: int, name_hash: str, filename: str, reclaim_before: float
    ) -> tuple[bool, int]:
        return await self.run(_audit, self.dev(device), part, name_hash, filename, reclaim_before)

    # -- async pendings ----------------------------------------------------------------------

    async def save_pending(self, device: str, pending: Pending) -> None:
        root = self.dev(device)
        key = f"{pending.timestamp}-{hashlib.md5(f'{pending.account}/{pending.container}/{pending.name}'.encode(), usedforsecurity=False).hexdigest()}.json"
        raw = json.dumps(pending.__dict__).encode()
        await self.run(df.write_whole, root, f"{root}/async_pending", key, raw)

    async def pendings(self, device: str, limit: int) -> list[tuple[str, Pending]]:
        def scan() -> list[tuple[str, Pending]]:
            base = f"{self.dev(device)}/async_pending"
            out = []
            for key in sorted(df.listdir(base))[:limit]:
                if key.endswith(".json"):
                    with open(f"{base}/{key}", "rb") as handle:
                        out.append((key, Pending(**json.load(handle))))
            return out

        return await self.run(scan)

    async def drop_pending(self, device: str, key: str) -> None:
        await self.run(os.unlink, f"{self.dev(device)}/async_pending/{key}")


async def _checked(call: Awaitable[T]) -> T:
    with _as_unavailable():
        return await call


@contextlib.contextmanager
def _as_unavailable() -> Iterator[None]:
    """A device's failure raised as DeviceUnavailable (any other error as it is)."""
    try:
        yield
    except (df.Unavailable, OSError) as exc:
        unavailable = _unavailable(exc)
        if unavailable is None:
            raise
        raise unavailable from exc


def _in_place(outcomes: list[T | OSError | df.Unavailable]) -> list[T | DeviceUnavailable]:
    """Each device's outcome, a device's failure as DeviceUnavailable (any other error is
    raised)."""
    found: list[T | DeviceUnavailable] = []
    for outcome in outcomes:
        if isinstance(outcome, (OSError, df.Unavailable)):
            unavailable = _unavailable(outcome)
            if unavailable is None:
                raise outcome
            found.append(unavailable)
        else:
            found.append(outcome)
    return found


def _unavailable(exc: BaseException) -> DeviceUnavailable | None:
    """The DeviceUnavailable a device's failure means (None: not a device's failure)."""
    if isinstance(exc, df.Unavailable):
        return DeviceUnavailable(str(exc))
    if isinstance(exc, OSError) and exc.errno in df.FATAL:
        return DeviceUnavailable(f"device failed: {exc}")
    return None


def _audit(
    root: str, part: int, name_hash: str, filename: str, reclaim_before: float
) -> tuple[bool, int]:
    df.check_device(root)
    directory = df.hash_dir(root, part, name_hash)
    path = f"{directory}/{filename}"
    if filename.endswith(".ts"):
        if float(filename[:-3]) < reclaim_before:
            shutil.rmtree(directory, ignore_errors=True)
            df.changed(directory)
        return True, 0
    try:
        actual, recorded, size = df.etag_of(path)
        if actual == recorded:
            return True, size
    except FileNotFoundError:
        return True, 0  # replaced or deleted meanwhile
    except (ValueError, KeyError, struct.error, json.JSONDecodeError):
        pass
    target = f"{root}/quarantined/objects/{name_hash}"
    os.makedirs(target, exist_ok=True)
    os.rename(path, f"{target}/{filename}")
    df.fsync_dir(directory)
    df.changed(directory)
    return False, 0
