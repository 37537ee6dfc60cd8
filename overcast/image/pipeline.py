"""Moving image bytes: from a source stream into a store writer, hashed and inspected on the way.

The incoming chunks (64 KiB from the HTTP server) are copied into a few reused buffers of 4 MiB.
Each full buffer goes down three lanes at once: the store write, md5 and the os_hash algorithm,
each in a thread (hashlib and os.write release the GIL), each in order, none waiting for the
others; meanwhile the next buffer is filled. A buffer is refilled only when every lane is done
with it, so memory stays at `BUFFERS` buffers whatever the size of the image.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable

from overcast.common import errors
from overcast.image import drivers, formats

BATCH = 4 << 20
BUFFERS = 3  # one being filled while up to two are hashed and written

Lane = Callable[[memoryview], Awaitable[None]]


class Digest:
    """md5 (Glance's `checksum`), the secure hash, the size and the format of what passed."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.secure = hashlib.new(algorithm)
        self.inspector = formats.Inspector()

    @property
    def size(self) -> int:
        return self.inspector.size


class _Batch:
    """A filled buffer on its way down the lanes; back in the pool when the last lane is done."""

    def __init__(self, buffer: bytearray, size: int, lanes: int) -> None:
        self.buffer = buffer
        self.view = memoryview(buffer)[:size]
        self.pending = lanes


async def pump(
    source: AsyncIterator[bytes],
    writer: drivers.Writer,
    digest: Digest | None = None,
    limit: int | None = None,
    inspector: formats.Inspector | None = None,
) -> int:
    """Write all of `source` to `writer` (not committing); returns the number of bytes.

    Raises errors.OverQuota past `limit` bytes or when the store is full; whatever fails, no
    lane is still working when this returns or raises.
    """
    if digest is not None:
        inspector = digest.inspector
    lanes: list[Lane] = [_storing(writer)]
    if digest is not None:
        lanes += [_threaded(digest.md5.update), _threaded(digest.secure.update)]
    queues: list[asyncio.Queue[_Batch | None]] = [asyncio.Queue() for _ in lanes]
    free: asyncio.Queue[bytearray] = asyncio.Queue()
    made = moved = 0

    async def fresh() -> bytearray:
        nonlocal made
        if free.empty() and made < BUFFERS:
            made += 1
            return bytearray(BATCH)
        return await free.get()

    def send(buffer: bytearray, size: int) -> None:
        nonlocal moved
        batch = _Batch(buffer, size, len(lanes))
        if inspector is not None:
            inspector.feed(batch.view)
        moved += size
        for queue in queues:
            queue.put_nowait(batch)

    async def produce() -> None:
        buffer, held = await fresh(), 0
        async for chunk in source:
            if limit is not None and moved + held + len(chunk) > limit:
                raise errors.OverQuota(
                    f"Image data is larger than the {limit} bytes this upload may store."
                )
            data, start = memoryview(chunk), 0
            while start < len(data):
                take = min(len(data) - start, BATCH - held)
                buffer[held : held + take] = data[start : start + take]
                held += take
                start += take
                if held == BATCH:
                    send(buffer, held)
                    buffer, held = await fresh(), 0
        if held:
            send(buffer, held)
        for queue in queues:
            queue.put_nowait(None)

    async def drain(lane: Lane, queue: asyncio.Queue[_Batch | None]) -> None:
        while (batch := await queue.get()) is not None:
            await _unabandoned(lane(batch.view))
            batch.pending -= 1
            if not batch.pending:
                free.put_nowait(batch.buffer)

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(produce())
            for lane, queue in zip(lanes, queues, strict=True):
                group.create_task(drain(lane, queue))
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return moved


def _threaded(update: Callable[[memoryview], None]) -> Lane:
    async def run(batch: memoryview) -> None:
        await asyncio.to_thread(update, batch)

    return run


def _storing(writer: drivers.Writer) -> Lane:
    """Write, translating a full disk into Glance's 413 rather than a 500."""

    async def run(batch: memoryview) -> None:
        try:
            await writer.write(batch)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise errors.OverQuota("Image storage media is full.") from exc
            raise

    return run


async def _unabandoned(work: Awaitable[None]) -> None:
    """Await `work`; if cancelled, still wait for it to end, so that no thread goes on using a
    buffer or a file that the caller is about to reuse or abort."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise
