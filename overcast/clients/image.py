"""The image service (Glance v2) as compute uses it: read and list images, download their data,
create, upload and delete the images that snapshots and shelving make, and change properties
(for compute's `/images` proxy)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from overcast.clients.base import RestClient

# Glance's own fields; every other top-level key of an image is a user property.
CORE = {
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "owner",
    "size",
    "virtual_size",
    "min_disk",
    "min_ram",
    "container_format",
    "disk_format",
    "created_at",
    "updated_at",
    "tags",
    "self",
    "file",
    "schema",
    "direct_url",
    "locations",
    "os_hidden",
    "stores",
    "member_status",
}


def properties(image: dict[str, Any]) -> dict[str, Any]:
    """The user properties of a Glance image (everything that is not a core field)."""
    return {k: v for k, v in image.items() if k not in CORE}


# A boot reads its image twice within milliseconds (the API checks it, the agent uses it);
# records are kept this long per token, so one user's burst of boots asks the service once.
CACHE_SECONDS = 2.0
_CACHE: dict[tuple[str, str | None, str], tuple[float, dict[str, Any]]] = {}
# The reads under way: a burst of boots that finds the record expired waits for one read
# instead of each sending its own (a dozen at once per API process was seen).
_READING: dict[tuple[str, str | None, str], asyncio.Future[dict[str, Any]]] = {}


class _ReadFailed(Exception):
    """The read a caller waited for failed; it reads for itself."""


class ImageClient(RestClient):
    service = "image"

    async def get(self, image_id: str) -> dict[str, Any]:
        """The image's record; errors.NotFound when it does not exist or is not visible."""
        key = (self.endpoint, self.token, image_id)
        now = time.monotonic()
        hit = _CACHE.get(key)
        if hit is not None and hit[0] > now:
            return dict(hit[1])
        reading = _READING.get(key)
        if reading is not None:
            try:
                return dict(await asyncio.shield(reading))
            except Exception:
                pass  # the read it waited for failed: its own says why
        else:
            reading = _READING[key] = asyncio.get_running_loop().create_future()
        try:
            response = await self.request("GET", f"/v2/images/{image_id}")
            image: dict[str, Any] = response.json()
        except BaseException:
            if reading is not None and not reading.done():
                reading.set_exception(_ReadFailed())
                reading.exception()  # retrieved: its waiters read for themselves
            raise
        finally:
            if reading is not None and _READING.get(key) is reading:
                del _READING[key]
        if len(_CACHE) > 10000:
            _CACHE.clear()
        _CACHE[key] = (now + CACHE_SECONDS, image)
        if reading is not None and not reading.done():
            reading.set_result(image)
        return dict(image)

    def _forget(self, image_id: str) -> None:
        for key in [k for k in _CACHE if k[2] == image_id]:
            _CACHE.pop(key, None)

    async def download(self, image_id: str, dest: Path) -> int:
        """Write the image's data to `dest`; the number of bytes written."""
        written = 0
        with dest.open("wb") as handle:
            async for chunk in self.stream(f"/v2/images/{image_id}/file"):
                await asyncio.to_thread(handle.write, chunk)
                written += len(chunk)
        return written

    async def find(self, **filters: Any) -> list[dict[str, Any]]:
        """The images matching Glance's list filters (e.g. name, visibility), first page."""
        response = await self.request("GET", "/v2/images", params=filters)
        images: list[dict[str, Any]] = response.json()["images"]
        return images

    async def create(self, **fields: Any) -> dict[str, Any]:
        response = await self.request("POST", "/v2/images", json_body=fields)
        image: dict[str, Any] = response.json()
        return image

    async def upload(self, image_id: str, path: Path) -> None:
        """Stream the file at `path` as the image's data (never whole in memory)."""
        size = (await asyncio.to_thread(path.stat)).st_size

        async def chunks() -> AsyncIterator[bytes]:
            handle = await asyncio.to_thread(path.open, "rb")
            try:
                while data := await asyncio.to_thread(handle.read, 4 << 20):
                    yield data
            finally:
                handle.close()

        self._forget(image_id)
        await self.request(
            "PUT",
            f"/v2/images/{image_id}/file",
            content=chunks(),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        )

    async def activate_empty(self, image_id: str) -> None:
        """Upload no data, so that the image is active with size 0: Nova's way of finishing the
        image of a volume-backed server, whose data is in volume snapshots."""
        self._forget(image_id)
        await self.request(
            "PUT",
            f"/v2/images/{image_id}/file",
            content=b"",
            headers={"Content-Type": "application/octet-stream", "Content-Length": "0"},
        )

    async def list(self, **params: Any) -> list[dict[str, Any]]:
        """One page of the images this token sees (Glance's filters, `limit`, `marker`)."""
        response = await self.request("GET", "/v2/images", params=params)
        images: list[dict[str, Any]] = response.json()["images"]
        return images

    async def update(
        self, image_id: str, changes: dict[str, Any], removed: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Replace (or add) the given properties, and remove `removed`, in one JSON patch."""
        self._forget(image_id)
        patch = [{"op": "add", "path": f"/{key}", "value": value} for key, value in changes.items()]
        patch += [{"op": "remove", "path": f"/{key}"} for key in removed]
        response = await self.request(
            "PATCH",
            f"/v2/images/{image_id}",
            json_body=patch,
            headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
        )
        image: dict[str, Any] = response.json()
        return image

    async def delete(self, image_id: str) -> None:
        self._forget(image_id)
        await self.request("DELETE", f"/v2/images/{image_id}")
