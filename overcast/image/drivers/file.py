"""The `file` store: image data as files under DATA_DIR/image/<store name>/.

A write goes to `.incoming/<key>.<random>.part`; `commit` fsyncs it, renames it to `<key>` and
fsyncs the directory, so a reader (or a crash) sees the whole file or none of it. While writing,
Linux is asked to start writing back every few MiB (sync_file_range), so the final fsync has
little left to wait for; the range before, by then on disk, is dropped from the page cache, so an
upload recycles a few MiB of cache instead of faulting in fresh pages for every byte (about
2 CPU-s/GiB of system time in a VM) and dirty pages never pile up. Reads drop behind them too:
images are read once, start to end, so caching them only evicts what is worth keeping.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

from overcast.common import errors
from overcast.common.config import Settings
from overcast.image import drivers

READ_CHUNK = 4 << 20
WRITEBACK_EVERY = 32 << 20
_SYNC_FILE_RANGE_WAIT_BEFORE, _SYNC_FILE_RANGE_WRITE, _SYNC_FILE_RANGE_WAIT_AFTER = 1, 2, 4


def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's sync_file_range (Linux), or None where there is no such call."""
    try:
        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    return call  # type: ignore[no-any-return, unused-ignore]


_START_WRITEBACK = _sync_file_range()


class FileWriter(drivers.Writer):
    def __init__(self, final: Path, temp: Path, fd: int) -> None:
        self.final = final
        self.temp = temp
        self.fd: int | None = fd
        self.size = 0
        self.flushed = 0  # bytes whose writeback has been started
        self.dropped = 0  # bytes written back and dropped from the page cache

    async def write(self, chunk: bytes | memoryview) -> None:
        if self.fd is None:
            raise errors.Conflict("This write has already ended.")
        await asyncio.to_thread(self._write, self.fd, chunk)

    def _write(self, fd: int, chunk: bytes | memoryview) -> None:
        _write_all(fd, chunk)
        self.size += len(chunk)
        if _START_WRITEBACK is not None and self.size - self.flushed >= WRITEBACK_EVERY:
            _START_WRITEBACK(fd, self.flushed, self.size - self.flushed, _SYNC_FILE_RANGE_WRITE)
            if self.flushed > self.dropped:  # the range started last time: wait, then drop it
                _drop_behind(_START_WRITEBACK, fd, self.dropped, self.flushed - self.dropped)
                self.dropped = self.flushed
            self.flushed = self.size

    async def commit(self) -> drivers.Stored:
        if self.fd is None:
            raise errors.Conflict("This write has already ended.")
        fd, self.fd = self.fd, None
        await asyncio.to_thread(_publish, fd, self.temp, self.final)
        return drivers.Stored(self.final.as_uri(), self.size)

    async def abort(self) -> None:
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        await asyncio.to_thread(_discard, fd, self.temp)


class FileStore(drivers.Store):
    driver = "file"

    def __init__(self, settings: Settings, name: str, callbacks: drivers.Callbacks) -> None:
        super().__init__(settings, name, callbacks)
        self.root = settings.data_dir / "image" / name
        self.incoming = self.root / ".incoming"

    async def writer(self, key: str) -> drivers.Writer:
        if not key or "/" in key or key.startswith("."):
            raise errors.BadRequest(f"Invalid key {key!r} for the file store.")
        temp = self.incoming / f"{key}.{uuid.uuid4().hex}.part"

        def _open() -> int:
            self.incoming.mkdir(parents=True, exist_ok=True)
            return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)

        fd = await asyncio.to_thread(_open)
        return FileWriter(self.root / key, temp, fd)

    async def read(
        self, url: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self._path(url)
        try:
            handle = await asyncio.to_thread(open, path, "rb", buffering=0)
        except FileNotFoundError as exc:
            raise errors.NotFound("The image data is no longer in its store.") from exc
        try:
            if offset:
                handle.seek(offset)
            _advise(handle.fileno(), offset, 0, "POSIX_FADV_SEQUENTIAL")
            left, done, dropped = length, offset, offset
            while left is None or left > 0:
                want = READ_CHUNK if left is None else min(READ_CHUNK, left)
                chunk = await asyncio.to_thread(handle.read, want)
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                done += len(chunk)
                if done - dropped >= WRITEBACK_EVERY:
                    _advise(handle.fileno(), dropped, done - dropped, "POSIX_FADV_DONTNEED")
                    dropped = done
                yield chunk
        finally:
            handle.close()

    async def delete(self, url: str) -> None:
        path = self._path(url)
        await asyncio.to_thread(path.unlink, True)

    async def cleanup(self) -> None:
        await asyncio.to_thread(shutil.rmtree, self.incoming, True)

    def description(self) -> str:
        return f"Local files under {self.root}"

    def url_for(self, key: str) -> str:
        """The URL that a committed write of `key` has."""
        return (self.root / key).as_uri()

    def _path(self, url: str) -> Path:
        parsed = urlparse(url)
        path = Path(unquote(parsed.path))
        if parsed.scheme != "file" or path.parent != self.root or path.name.startswith("."):
            raise errors.NotFound(f"{url} is not a location in store {self.name}.")
        return path


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _drop_behind(
    sync: Callable[[int, int, int, int], int], fd: int, offset: int, length: int
) -> None:
    """Wait until [offset, offset+length) is on disk, then evict it from the page cache."""
    flags = _SYNC_FILE_RANGE_WAIT_BEFORE | _SYNC_FILE_RANGE_WRITE | _SYNC_FILE_RANGE_WAIT_AFTER
    sync(fd, offset, length, flags)
    _advise(fd, offset, length, "POSIX_FADV_DONTNEED")


def _advise(fd: int, offset: int, length: int, advice: str) -> None:
    """posix_fadvise where there is one (not on macOS); the kernel may ignore it anyway."""
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, offset, length, getattr(os, advice))


def _publish(fd: int, temp: Path, final: Path) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, final)
    directory = os.open(final.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _discard(fd: int, temp: Path) -> None:
    os.close(fd)
    temp.unlink(missing_ok=True)
