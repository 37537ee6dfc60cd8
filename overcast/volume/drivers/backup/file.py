"""The `file` backup driver: each object a file `root/<container>/<name>`, written beside its
final name, fsynced and renamed into place."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from overcast.common import errors, files
from overcast.volume.drivers.backup import BackupDriver


class Driver(BackupDriver):
    name = "file"

    def _path(self, container: str, name: str) -> Path:
        if "/" in container or ".." in container or ".." in name:
            raise errors.BadRequest(f"Invalid backup object {container}/{name}.")
        return self.root / container / name

    async def put(self, container: str, name: str, data: bytes) -> None:
        await asyncio.to_thread(files.atomic_write, self._path(container, name), data, 0o600)

    async def get(self, container: str, name: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(container, name).read_bytes)
        except FileNotFoundError as exc:
            raise errors.NotFound(f"Backup object {container}/{name} is missing.") from exc

    async def exists(self, container: str, name: str) -> bool:
        return await asyncio.to_thread(self._path(container, name).exists)

    async def delete(self, container: str, prefix: str) -> None:
        def remove() -> None:
            base = self.root / container
            for path in base.glob(f"{prefix}*"):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)

        await asyncio.to_thread(remove)
