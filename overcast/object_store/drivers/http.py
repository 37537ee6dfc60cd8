"""The `http` object server: another node's devices, reached over HTTP (Swift's object
servers behind the proxy). The other end is `object_store.server`, run by that node's
`object` role over its `local` driver, so the fsync, rename and device checks are the same.

The wire format is the file format: a PUT's body is the file as it will be stored (content,
then the metadata trailer of `diskfile`), streamed as it is written; the server stores it
only when the body is complete and ends with a sound trailer, so a proxy that gives up (an
ETag that does not match, too few replicas) just drops its connection and nothing is placed.
A node that cannot be reached in time, or answers 507 or 5xx, is `DeviceUnavailable`; one
that could not be reached `error_limit` times running is not asked again for
`error_interval` seconds (Swift's error suppression), so a hung node costs requests nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from overcast.common.listener import CLIENT_KEEP_ALIVE
from overcast.object_store import diskfile as df
from overcast.object_store.drivers import (
    Capabilities,
    DeviceUnavailable,
    ObjectServer,
    Pending,
    Stored,
    Writer,
)

KEY_HEADER = "X-Object-Server-Key"


def node_key(salt: bytes) -> str:
    """What a proxy proves it belongs to the cluster with: derived from the hash path salt,
    which every node of the cluster holds (the ring cannot be read without it)."""
    return hmac.new(salt, b"overcast object server", hashlib.sha256).hexdigest()


def stored_to_wire(stored: Stored) -> bytes:
    info = {
        "timestamp": stored.timestamp,
        "deleted": stored.deleted,
        "metadata": stored.metadata,
        "size": stored.size,
        "meta_timestamp": stored.meta_timestamp,
        "body": stored.body is not None,
    }
    return (stored.body or b"") + df.trailer(info)


def stored_from_wire(raw: bytes) -> Stored:
    content, info = df.split(raw)
    return Stored(
        timestamp=info["timestamp"],
        deleted=info["deleted"],
        metadata=info["metadata"],
        size=info["size"],
        body=content if info["body"] else None,
        meta_timestamp=info["meta_timestamp"],
    )


class HttpWriter(Writer):
    """A replica streamed in one chunked PUT; `write` waits while the request is behind
    (a queue of two chunks), so a slow node slows the upload rather than filling memory."""

    def __init__(self, server: HttpServer, path: str) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=2)
        self.task = asyncio.ensure_future(server.call("PUT", path, content=self._body()))

    async def _body(self) -> AsyncIterator[bytes]:
        while (chunk := await self.queue.get()) is not None:
            yield chunk

    async def _send(self, item: bytes | None) -> None:
        put = asyncio.ensure_future(self.queue.put(item))
        await asyncio.wait({put, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if not put.done():
            put.cancel()
            self.task.result()  # the request's own error (DeviceUnavailable)
            raise DeviceUnavailable("the object server answered before the upload ended")

    async def write(self, chunk: memoryview | bytes) -> None:
        await self._send(bytes(chunk))

    async def commit(self, metadata: dict[str, str]) -> None:
        await self._send(df.trailer(metadata))
        await self._send(None)
        await self.task

    async def abort(self) -> None:
        self.task.cancel()  # the connection closes mid-body: the server stores nothing
        try:
            await self.task
        except (asyncio.CancelledError, DeviceUnavailable):
            pass


class HttpServer(ObjectServer):
    capabilities = Capabilities(fsync=True, remote=True)

    def __init__(
        self,
        url: str,
        key: str,
        conn_timeout: float = 1.0,
        node_timeout: float = 10.0,
        error_limit: int = 10,
        error_interval: float = 60.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.error_limit = error_limit
        self.error_interval = error_interval
        self.errors = 0  # transport failures in a row
        self.suppressed_until = 0.0  # time.monotonic() before which the node is not asked
        self.client = httpx.AsyncClient(
            base_url=self.url,
            headers={KEY_HEADER: key},
            timeout=httpx.Timeout(node_timeout, connect=conn_timeout),
            limits=httpx.Limits(
                max_connections=256,
                max_keepalive_connections=64,
                keepalive_expiry=CLIENT_KEEP_ALIVE,
            ),
        )

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; a node that cannot be reached, or fails, is DeviceUnavailable.
        404 is returned to the caller (the object or file is not there)."""
        self._check()
        try:
            response = await self.client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._failed(exc) from exc
        self.errors = 0
        if response.status_code >= 300 and response.status_code != 404:
            raise DeviceUnavailable(
                f"object server {self.url}{path}: {response.status_code} {response.text[:200]}"
            )
        return response

    def _check(self) -> None:
        if time.monotonic() < self.suppressed_until:
            raise DeviceUnavailable(f"object server {self.url} is error-limited")

    def _failed(self, exc: Exception) -> DeviceUnavailable:
        self.errors += 1
        if self.errors >= self.error_limit:
            self.errors = 0
            self.suppressed_until = time.monotonic() + self.error_interval
        return DeviceUnavailable(f"object server {self.url}: {exc!r}")

    async def close(self) -> None:
        await self.client.aclose()

    # -- objects -----------------------------------------------------------------------------

    async def writer(self, device: str, part: int, name_hash: str, timestamp: str) -> Writer:
        # A device that is down is known before the stream starts, so the proxy can take a
        # handoff instead (Swift learns it from the 100-continue it waits for).
        await self.call("GET", f"/devices/{device}")
        return HttpWriter(self, f"/objects/{device}/{part}/{name_hash}/{timestamp}.data")

    async def head(self, device: str, part: int, name_hash: str, small: int = 0) -> Stored | None:
        response = await self.call(
            "GET", f"/objects/{device}/{part}/{name_hash}", params={"small": small}
        )
        if response.status_code == 404:
            return None
        return stored_from_wire(response.content)

    async def read(
        self, device: str, part: int, name_hash: str, timestamp: str, start: int, end: int
    ) -> AsyncIterator[bytes]:
        path = f"/objects/{device}/{part}/{name_hash}/{timestamp}.data"
        self._check()
        try:
            async with self.client.stream(
                "GET", path, params={"start": start, "end": end}
            ) as response:
                if response.status_code != 200:
                    raise DeviceUnavailable(
                        f"object server {self.url}{path}: {response.status_code}"
                    )
                self.errors = 0
                async for chunk in response.aiter_bytes():
                    yield chunk
        except httpx.TransportError as exc:
            raise self._failed(exc) from exc

    # -- replication and audit ---------------------------------------------------------------

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.call(method, path, **kwargs)
        if response.status_code == 404:
            raise FileNotFoundError(path)
        return json.loads(response.content)

    async def partitions(self, device: str) -> list[int]:
        found: list[int] = await self._json("GET", f"/partitions/{device}")
        return found

    async def suffix_hashes(self, device: str, part: int) -> dict[str, str]:
        found: dict[str, str] = await self._json("GET", f"/partitions/{device}/{part}")
        return found

    async def suffix_files(self, device: str, part: int, suffix: str) -> dict[str, list[str]]:
        found: dict[str, list[str]] = await self._json(
            "GET", f"/partitions/{device}/{part}/{suffix}"
        )
        return found

    async def read_file(self, device: str, part: int, name_hash: str, filename: str) -> bytes:
        path = f"/objects/{device}/{part}/{name_hash}/{filename}"
        response = await self.call("GET", path)
        if response.status_code == 404:
            raise FileNotFoundError(path)
        return response.content

    async def write_file(
        self, device: str, part: int, name_hash: str, filename: str, raw: bytes
    ) -> None:
        await self.call("PUT", f"/objects/{device}/{part}/{name_hash}/{filename}", content=raw)

    async def drop_partition(self, device: str, part: int) -> None:
        await self.call("DELETE", f"/partitions/{device}/{part}")

    async def audit(
        self, device: str, part: int, name_hash: str, filename: str, reclaim_before: float
    ) -> tuple[bool, int]:
        sound, read = await self._json(
            "POST",
            f"/audit/{device}/{part}/{name_hash}/{filename}",
            params={"reclaim_before": reclaim_before},
        )
        return bool(sound), int(read)

    # -- async pendings ----------------------------------------------------------------------

    async def save_pending(self, device: str, pending: Pending) -> None:
        await self.call("PUT", f"/pending/{device}", json=pending.__dict__)

    async def pendings(self, device: str, limit: int) -> list[tuple[str, Pending]]:
        found = await self._json("GET", f"/pending/{device}", params={"limit": limit})
        return [(key, Pending(**fields)) for key, fields in found]

    async def drop_pending(self, device: str, key: str) -> None:
        response = await self.call("DELETE", f"/pending/{device}/{key}")
        if response.status_code == 404:
            raise FileNotFoundError(key)
