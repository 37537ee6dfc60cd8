"""The host's cache of base images: each image's data fetched once from the image service,
checked against the hash the image service recorded (os_hash_algo/os_hash_value, or the md5
checksum), then kept read-only for every guest built from it.

Used by `host.Host.fetch_image`; parallel builds of one image wait for one download.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Any

from overcast.common import errors

_CHUNK = 4 << 20


def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class ImageCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[str, asyncio.Lock] = {}

    async def fetch(self, client: Any, image: dict[str, Any]) -> Path:
        """The image's data in the cache, downloaded and verified if it was not there."""
        image_id = str(image["id"])
        path = self.root / image_id
        lock = self._locks.setdefault(image_id, asyncio.Lock())
        async with lock:
            if path.exists():
                return path
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".part")
            try:
                await client.download(image_id, tmp)
                await asyncio.to_thread(self._verify, tmp, image)
                tmp.chmod(0o444)
                await asyncio.to_thread(_fsync, tmp)
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        return path

    @staticmethod
    def _verify(path: Path, image: dict[str, Any]) -> None:
        algo, expected = image.get("os_hash_algo"), image.get("os_hash_value")
        if not (algo and expected):
            algo, expected = "md5", image.get("checksum")
        if not expected:
            return  # an image without recorded data hash (none is given for location images)
        if _digest(path, str(algo)) != expected:
            raise errors.BadRequest(
                f"Image {image['id']}'s data does not match its {algo} hash: refused."
            )


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())
