"""Object replicas: write to every replica and succeed on quorum, read the newest replica.

Called by the API's object routes. A write is acknowledged only when a quorum of devices has
fsynced it; if fewer took it, what the others wrote stays unreferenced (older timestamps win
nothing) and the client gets 503, as from Swift.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TypeVar

from overcast.common import errors
from overcast.object_store import constraints
from overcast.object_store.diskfile import trailer
from overcast.object_store.drivers import DeviceUnavailable, ObjectServer, Stored, Writer
from overcast.object_store.proxy.placement import Placement
from overcast.object_store.ring.ring import Node

T = TypeVar("T")
BUFFER = 4 << 20  # stream in buffers of this size to the replicas


@dataclass(frozen=True)
class Found:
    """The newest replica of an object and where it is."""

    node: Node
    part: int
    name_hash: str
    stored: Stored


class Unacceptable(errors.UnprocessableEntity):
    """The content did not match the ETag the client sent."""


class ObjectReplicas:
    def __init__(self, placement: Placement) -> None:
        self.placement = placement

    # -- reads -------------------------------------------------------------------------------

    async def newest(self, account: str, container: str, obj: str) -> Found | None:
        """The newest state among the primaries (handoffs if no primary knows the object);
        None when no device has heard of it. A tombstone is returned as such."""
        name_hash, part = self.placement.locate(account, container, obj)
        ring = self.placement.ring

        async def heads(nodes: list[Node]) -> list[Found]:
            """The newest answer of each server asked (one call a server)."""

            async def ask(server: ObjectServer, group: list[Node]) -> Found | None:
                wanted = [(n.device, part, name_hash) for n in group]
                answer = await server.newest(wanted, constraints.SMALL_OBJECT)
                if answer is None:
                    return None
                index, stored = answer
                return Found(group[index], part, name_hash, stored)

            found = await asyncio.gather(*(ask(s, g) for s, g in self.placement.by_server(nodes)))
            return [f for f in found if f is not None]

        answers = await heads(ring.primaries(part))
        if not answers:
            for count, node in enumerate(ring.handoffs(part)):
                if count >= ring.replicas * 2:
                    break
                answers = await heads([node])
                if answers:
                    break
        return max(answers, key=lambda a: a.stored.order, default=None)

    def read(self, found: Found, start: int, end: int) -> AsyncIterator[bytes]:
        """Content bytes [start, end) of a found replica."""
        body = found.stored.body
        if body is not None:
            return _once(body[start:end])
        return self.placement.server(found.node).read(
            found.node.device, found.part, found.name_hash, found.stored.timestamp, start, end
        )

    # -- writes ------------------------------------------------------------------------------

    async def put_whole(
        self, account: str, container: str, obj: str, data: bytes, metadata: dict[str, str]
    ) -> list[Node]:
        """Store a small object held in memory; `metadata` holds its ETag and timestamp."""
        name_hash, part = self.placement.locate(account, container, obj)
        raw = data + trailer(metadata)
        filename = f"{metadata['X-Timestamp']}.data"
        return self._quorum(await self.placement.write_replicas(part, name_hash, filename, raw))

    async def put_stream(
        self,
        account: str,
        container: str,
        obj: str,
        body: AsyncIterator[bytes],
        metadata: dict[str, str],
        length: int | None,
        expect_etag: str | None,
        room: int | None = None,
    ) -> tuple[list[Node], str, int]:
        """Stream a body to every replica; (the nodes that hold it, its ETag, its size). A body
        over `room` bytes (what quotas leave) is refused before anything is committed."""
        name_hash, part = self.placement.locate(account, container, obj)
        timestamp = metadata["X-Timestamp"]

        async def open_writer(server: ObjectServer, node: Node) -> Writer:
            return await server.writer(node.device, part, name_hash, timestamp)

        writers = dict(self._quorum(await self.placement.on_replicas(part, open_writer)))
        try:
            etag, size = await self._pump(body, writers, length, room)
            if expect_etag is not None and expect_etag.strip('"').lower() != etag:
                raise Unacceptable("Unprocessable Entity")
            full = {**metadata, "ETag": etag, "Content-Length": str(size)}

            async def commit(node: Node, writer: Writer) -> Node | None:
                try:
                    await writer.commit(full)
                    return node
                except DeviceUnavailable:
                    await writer.abort()
                    return None

            done = await asyncio.gather(*(commit(n, w) for n, w in writers.items()))
            writers = {}
            stored = self._quorum([n for n in done if n is not None])
            return stored, etag, size
        finally:
            await asyncio.gather(*(w.abort() for w in writers.values()))

    async def _pump(
        self,
        body: AsyncIterator[bytes],
        writers: dict[Node, Writer],
        length: int | None,
        room: int | None,
    ) -> tuple[str, int]:
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        pieces: list[bytes] = []  # what came in since the last hand-over
        held = 0  # their bytes
        loop = asyncio.get_running_loop()

        async def flush(chunk: bytes) -> None:
            async def write(node: Node, writer: Writer) -> None:
                try:
                    await writer.write(chunk)
                except DeviceUnavailable:
                    writers.pop(node, None)
                    await writer.abort()

            await asyncio.gather(
                loop.run_in_executor(None, digest.update, chunk),
                *(write(n, w) for n, w in list(writers.items())),
            )
            if len(writers) < self.placement.quorum:
                raise errors.ServiceUnavailable("Too few devices took the object")

        # One buffer goes to the devices while the next comes in from the client. It is
        # joined once from the pieces received (a bytearray grown piece by piece was copied
        # over and over as it grew: a third of the event loop's time under large PUTs).
        in_flight: asyncio.Future[None] | None = None

        async def hand_over() -> None:
            nonlocal in_flight, pieces, held
            chunk = b"".join(pieces)
            pieces, held = [], 0
            if in_flight is not None:
                await in_flight
            in_flight = asyncio.ensure_future(flush(chunk))

        try:
            async for chunk in body:
                size += len(chunk)
                if length is not None and size > length:
                    raise errors.BadRequest("The body is longer than its Content-Length")
                if size > constraints.MAX_FILE_SIZE:
                    raise errors.PayloadTooLarge("Your request is too large.")
                if room is not None and size > room:
                    raise errors.PayloadTooLarge("Upload exceeds quota.")
                pieces.append(chunk)
                held += len(chunk)
                if held >= BUFFER:
                    await hand_over()
            if length is not None and size < length:
                raise ClientDisconnect("The body is shorter than its Content-Length")
            if held:
                await hand_over()
            if in_flight is not None:
                await in_flight
        finally:
            # Writes in the I/O threads end before the writers may be aborted (their files
            # closed); cancelling would leave the threads writing.
            if in_flight is not None:
                await asyncio.wait([in_flight])
                if not in_flight.cancelled():
                    in_flight.exception()  # seen: the error raised is the one that ended it
        return digest.hexdigest(), size

    async def delete(self, found: Found, timestamp: str) -> list[Node]:
        raw = trailer({"X-Timestamp": timestamp})
        return await self._everywhere(found, f"{timestamp}.ts", raw)

    async def post(self, found: Found, metadata: dict[str, str]) -> list[Node]:
        return await self._everywhere(found, f"{metadata['X-Timestamp']}.meta", trailer(metadata))

    async def _everywhere(self, found: Found, filename: str, raw: bytes) -> list[Node]:
        placement = self.placement
        return self._quorum(
            await placement.write_replicas(found.part, found.name_hash, filename, raw)
        )

    def _quorum(self, done: list[T]) -> list[T]:
        if len(done) < self.placement.quorum:
            raise errors.ServiceUnavailable(
                f"Only {len(done)} of {self.placement.ring.replicas} devices took the write"
            )
        return done


class ClientDisconnect(errors.OvercastError):
    """The client sent less than it announced (Swift answers 499)."""

    status = 499
    title = "Client Disconnect"


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
