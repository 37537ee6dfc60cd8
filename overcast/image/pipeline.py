"""Moving image bytes: from a source stream into a store writer, hashed and inspected on the way.

The incoming chunks are gathered into batches of about a MiB; while one batch is hashed (md5 and
the os_hash algorithm, each in its own thread, as hashlib releases the GIL) and written, the
next one is received. At most `DEPTH` batches wait, so memory stays flat whatever the size.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable

from overcast.common import errors
from overcast.image import drivers, formats

BATCH = 1 << 20
DEPTH = 2


class Digest:
    """md5 (Glance's `checksum`), the secure hash, the size and the format of what passed."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.secure = hashlib.new(algorithm)
        self.inspector = formats.Inspector()

    async def update(self, batch: bytes) -> None:
        self.inspector.feed(batch)
        await asyncio.gather(
            asyncio.to_thread(self.md5.update, batch), asyncio.to_thread(self.secure.update, batch)
        )

    @property
    def size(self) -> int:
        return self.inspector.size


async def batches(source: AsyncIterator[bytes], limit: int | None) -> AsyncIterator[bytes]:
    """`source` regrouped into chunks of about BATCH bytes; OverQuota past `limit` bytes."""
    pending: list[bytes] = []
    held = total = 0
    async for chunk in source:
        if not chunk:
            continue
        total += len(chunk)
        if limit is not None and total > limit:
            raise errors.OverQuota(
                f"Image data is larger than the {limit} bytes this upload may store."
            )
        pending.append(chunk)
        held += len(chunk)
        if held >= BATCH:
            yield pending[0] if len(pending) == 1 else b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)


async def pump(
    source: AsyncIterator[bytes],
    writer: drivers.Writer,
    digest: Digest | None = None,
    limit: int | None = None,
    inspector: formats.Inspector | None = None,
) -> int:
    """Write all of `source` to `writer` (not committing); returns the number of bytes."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=DEPTH)
    moved = 0

    async def produce() -> None:
        async for batch in batches(source, limit):
            await queue.put(batch)
        await queue.put(None)

    async def consume() -> None:
        nonlocal moved
        while (batch := await queue.get()) is not None:
            work: list[Awaitable[None]] = [_storing(writer.write, batch)]
            if digest is not None:
                work.append(digest.update(batch))
            elif inspector is not None:
                inspector.feed(batch)
            await asyncio.gather(*work)
            moved += len(batch)

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(produce())
            group.create_task(consume())
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return moved


async def _storing(write: Callable[[bytes], Awaitable[None]], batch: bytes) -> None:
    """Write, translating a full disk into Glance's 413 rather than a 500."""
    try:
        await write(batch)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise errors.OverQuota("Image storage media is full.") from exc
        raise
