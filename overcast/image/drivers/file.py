"""The `file` store: image data as files under DATA_DIR/image/<store name>/.

A write goes to `.incoming/<key>.<random>.part`; `commit` fsyncs it, renames it to `<key>` and
fsyncs the directory, so a reader (or a crash) sees the whole file or none of it. While writing,
Linux is asked to write it back as it comes and to drop it from the page cache once on disk
(`files.WriteBehind`). Reads drop behind them too: images are read once, start to end, so
caching them only evicts what is worth keeping.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote, urlparse

from overcast.common import errors, files
from overcast.common.config import Settings
from overcast.image import drivers

READ_CHUNK = 4 << 20
WRITEBACK_EVERY = 32 << 20


class FileWriter(drivers.Writer):
    def __init__(self, final: Path, temp: Path, fd: int) -> None:
        self.final = final
        self.temp = temp
        self.fd: int | None = fd
        self.behind = files.WriteBehind(WRITEBACK_EVERY, drop=True)

    async def write(self, chunk: bytes | memoryview) -> None:
        if self.fd is None:
            raise errors.Conflict("This write has already ended.")
        await asyncio.to_thread(self._write, self.fd, chunk)

    def _write(self, fd: int, chunk: bytes | memoryview) -> None:
        _write_all(fd, chunk)
        self.behind.wrote(fd, len(chunk))

    async def commit(self) -> drivers.Stored:
        if self.fd is None:
            raise errors.Conflict("This write has already ended.")
        fd, self.fd = self.fd, None
        await asyncio.to_thread(_publish, fd, self.temp, self.final)
        return drivers.Stored(self.final.as_uri(), self.behind.size)

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
            files.advise(handle.fileno(), offset, 0, "POSIX_FADV_SEQUENTIAL")
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
                    files.advise(handle.fileno(), dropped, done - dropped, "POSIX_FADV_DONTNEED")
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
