"""The image store contract, run over every store driver (today: `file`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from overcast.common import errors
from overcast.common.config import Settings
from overcast.image import drivers

DRIVERS = ["file"]


class _Callbacks:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message)


@pytest.fixture(params=DRIVERS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> drivers.Store:
    settings = Settings(data_dir=tmp_path)
    return drivers.load(settings, "main", request.param, _Callbacks())


async def read_all(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in chunks])


async def put(store: drivers.Store, key: str, *parts: bytes) -> drivers.Stored:
    writer = await store.writer(key)
    for part in parts:
        await writer.write(part)
    return await writer.commit()


async def test_committed_data_reads_back_whole_and_in_ranges(store: drivers.Store) -> None:
    stored = await put(store, "img-1", b"abc" * 1000, b"", b"xyz")
    assert stored.size == 3003
    assert await read_all(store.read(stored.url)) == b"abc" * 1000 + b"xyz"
    assert await read_all(store.read(stored.url, 2998, 4)) == b"bcxy"
    assert await read_all(store.read(stored.url, 3000)) == b"xyz"


async def test_nothing_is_visible_before_commit_and_abort_leaves_nothing(
    store: drivers.Store,
) -> None:
    first = await put(store, "img-2", b"old")
    writer = await store.writer("img-2")
    await writer.write(b"new data that is never committed")
    assert await read_all(store.read(first.url)) == b"old"
    await writer.abort()
    await writer.abort()  # idempotent
    assert await read_all(store.read(first.url)) == b"old"


async def test_commit_replaces_and_abort_after_commit_does_nothing(store: drivers.Store) -> None:
    await put(store, "img-3", b"one")
    writer = await store.writer("img-3")
    await writer.write(b"two")
    stored = await writer.commit()
    await writer.abort()
    assert await read_all(store.read(stored.url)) == b"two"
    with pytest.raises(errors.Conflict):
        await writer.write(b"more")


async def test_delete_is_idempotent_and_reads_of_gone_data_say_not_found(
    store: drivers.Store,
) -> None:
    stored = await put(store, "img-4", b"bytes")
    await store.delete(stored.url)
    await store.delete(stored.url)
    with pytest.raises(errors.NotFound):
        await read_all(store.read(stored.url))


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


async def test_cleanup_drops_interrupted_writes(store: drivers.Store, tmp_path: Path) -> None:
    writer = await store.writer("img-5")
    await writer.write(b"half")
    await store.cleanup()
    assert files_under(tmp_path) == []


async def test_urls_outside_the_store_are_refused(store: drivers.Store, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.write_bytes(b"secret")
    for url in (outside.as_uri(), "file:///etc/passwd", "http://example.com/x"):
        with pytest.raises(errors.NotFound):
            await read_all(store.read(url))
        with pytest.raises(errors.NotFound):
            await store.delete(url)
    assert outside.exists()


async def test_keys_cannot_escape_the_store(store: drivers.Store) -> None:
    for key in ("../x", "a/b", ".hidden", ""):
        with pytest.raises(errors.BadRequest):
            await store.writer(key)
