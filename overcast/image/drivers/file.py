"""The `file` store: image data as files under DATA_DIR/image/<store name>/.

A write goes to `.incoming/<key>.<random>.part`; `commit` fsyncs it, renames it to `<key>` and
fsyncs the directory, so a reader (or a crash) sees the whole file or none of it. While writing,
Linux is asked to start writing back every few MiB (sync_file_range), so the final fsync has
little left to wait for and dirty pages never pile up.
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

READ_CHUNK = 1 << 20
WRITEBACK_EVERY = 32 << 20
_SYNC_FILE_RANGE_WRITE = 2


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

    async def write(self, chunk: bytes) -> None:
        if self.fd is None:
            raise errors.Conflict("This write has already ended.")
        await asyncio.to_thread(self._write, self.fd, chunk)

    def _write(self, fd: int, chunk: bytes) -> None:
        _write_all(fd, chunk)
        self.size += len(chunk)
        if _START_WRITEBACK is not None and self.size - self.flushed >= WRITEBACK_EVERY:
            _START_WRITEBACK(fd, self.flushed, self.size - self.flushed, _SYNC_FILE_RANGE_WRITE)
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
            left = length
            while left is None or left > 0:
                want = READ_CHUNK if left is None else min(READ_CHUNK, left)
                chunk = await asyncio.to_thread(handle.read, want)
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


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
