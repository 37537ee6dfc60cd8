"""The object-server contract, run over both drivers: `local` (directories in this process)
and `http` (the same directories behind an object server on a loopback port). Then what only
the HTTP transport can get wrong: the cluster key, names that would leave the devices root,
an upload cut short, a node that is gone."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from overcast.object_store import diskfile
from overcast.object_store.drivers import (
    DeviceUnavailable,
    ObjectServer,
    Pending,
)
from overcast.object_store.drivers import http as http_driver
from overcast.object_store.drivers.local import LocalServer, init_device
from overcast.object_store.server import app, listener
from tests.helpers.server import free_port

KEY = http_driver.node_key(b"test salt")
HASH = hashlib.md5(b"/a/c/o", usedforsecurity=False).hexdigest()
PART = 7


@pytest_asyncio.fixture(loop_scope="function")
async def served(tmp_path: Path) -> AsyncIterator[tuple[LocalServer, str]]:
    """A local server over two devices, and an object server in front of it."""
    for name in ("d1", "d2"):
        init_device(tmp_path / name)
    local = LocalServer(tmp_path, threads=4)
    url = f"http://127.0.0.1:{free_port()}"
    running = listener.Listener(app.build(local, KEY), url)
    await running.start()
    yield local, url
    await running.stop()
    await local.close()


@pytest_asyncio.fixture(params=["local", "http"], loop_scope="function")
async def server(
    request: pytest.FixtureRequest, served: tuple[LocalServer, str]
) -> AsyncIterator[ObjectServer]:
    local, url = served
    if request.param == "local":
        yield local
        return
    remote = http_driver.HttpServer(url, KEY)
    yield remote
    await remote.close()


def meta(ts: str, **more: str) -> dict[str, str]:
    return {"X-Timestamp": ts, "Content-Type": "text/plain", **more}


async def content(server: ObjectServer, ts: str, start: int, end: int) -> bytes:
    return b"".join([c async for c in server.read("d1", PART, HASH, ts, start, end)])


async def test_small_put_head_read(server: ObjectServer) -> None:
    await server.put("d1", PART, HASH, "0000000001.00000", b"hello", meta("1", ETag="e"))
    stored = await server.head("d1", PART, HASH, small=100)
    assert stored is not None
    assert (stored.timestamp, stored.deleted, stored.size, stored.body) == (
        "0000000001.00000",
        False,
        5,
        b"hello",
    )
    assert stored.metadata["ETag"] == "e"
    big = await server.head("d1", PART, HASH, small=2)
    assert big is not None and big.body is None and big.size == 5
    assert await content(server, "0000000001.00000", 1, 4) == b"ell"
    assert await server.head("d2", PART, HASH) is None


async def test_newest_among_devices(server: ObjectServer, tmp_path: Path) -> None:
    """The newest replica wins (a newer .meta counts); a device that is down or has never
    heard of the object is passed over; None when none has."""
    await server.put("d1", PART, HASH, "0000000001.00000", b"one", meta("1"))
    await server.put("d2", PART, HASH, "0000000002.00000", b"two", meta("2"))
    wanted = [("d1", PART, HASH), ("d2", PART, HASH), ("d3", PART, HASH)]
    found = await server.newest(wanted, small=10)
    assert found is not None and found[0] == 1 and found[1].body == b"two"
    await server.put("d1", PART, HASH, "0000000002.00000", b"two", meta("2"))
    await server.post("d1", PART, HASH, "0000000003.00000", {"X-Object-Meta-B": "3"})
    found = await server.newest(wanted, small=10)
    assert found is not None and found[0] == 0
    assert found[1].meta_timestamp == "0000000003.00000" and found[1].body == b"two"
    await server.delete("d2", PART, HASH, "0000000004.00000", meta("4"))
    found = await server.newest(wanted)
    assert found is not None and found[0] == 1 and found[1].deleted
    (tmp_path / "d2" / diskfile.MARKER).unlink()
    found = await server.newest(wanted)
    assert found is not None and found[0] == 0 and not found[1].deleted
    (tmp_path / "d2" / diskfile.MARKER).touch()
    await server.put("d2", PART, HASH, "0000000005.00000", b"five", meta("5"))
    newest = next((tmp_path / "d2").glob("objects/*/*/*/0000000005.00000.data"))
    newest.write_bytes(newest.read_bytes()[:-3])  # its trailer cut: the next newest answers
    found = await server.newest(wanted, small=10)
    assert found is not None and found[0] == 0 and found[1].body == b"two"
    assert await server.newest([("d1", PART, "0" * 32), ("d3", PART, HASH)]) is None


async def test_streamed_write_commit_and_abort(server: ObjectServer, tmp_path: Path) -> None:
    data = os.urandom(3 << 20) + b"tail"
    writer = await server.writer("d1", PART, HASH, "0000000002.00000")
    for at in range(0, len(data), 1 << 20):
        await writer.write(data[at : at + (1 << 20)])
    await writer.commit(meta("2", ETag=hashlib.md5(data, usedforsecurity=False).hexdigest()))
    assert await content(server, "0000000002.00000", 0, len(data)) == data
    assert await content(server, "0000000002.00000", len(data) - 4, len(data)) == b"tail"

    dropped = await server.writer("d1", PART, HASH, "0000000003.00000")
    await dropped.write(b"never placed")
    await dropped.abort()
    stored = await server.head("d1", PART, HASH)
    assert stored is not None and stored.timestamp == "0000000002.00000"
    for _ in range(50):  # the object server sees the connection go, then drops its file
        if not os.listdir(tmp_path / "d1" / "tmp"):
            break
        await asyncio.sleep(0.05)
    assert os.listdir(tmp_path / "d1" / "tmp") == []


async def test_delete_and_post(server: ObjectServer) -> None:
    await server.put(
        "d1", PART, HASH, "0000000001.00000", b"x", meta("1", **{"X-Object-Meta-A": "1"})
    )
    await server.post("d1", PART, HASH, "0000000002.00000", {"X-Object-Meta-B": "2"})
    stored = await server.head("d1", PART, HASH, small=10)
    assert stored is not None and stored.meta_timestamp == "0000000002.00000"
    assert "X-Object-Meta-A" not in stored.metadata and stored.metadata["X-Object-Meta-B"] == "2"
    await server.delete("d1", PART, HASH, "0000000003.00000", {"X-Timestamp": "3"})
    stored = await server.head("d1", PART, HASH)
    assert stored is not None and stored.deleted and stored.timestamp == "0000000003.00000"


async def test_unavailable_device(server: ObjectServer, tmp_path: Path) -> None:
    (tmp_path / "d2" / diskfile.MARKER).unlink()
    with pytest.raises(DeviceUnavailable):
        await server.head("d2", PART, HASH)
    with pytest.raises(DeviceUnavailable):
        await server.put("d2", PART, HASH, "0000000001.00000", b"x", meta("1"))
    with pytest.raises(DeviceUnavailable):
        await server.writer("d2", PART, HASH, "0000000001.00000")
    with pytest.raises(DeviceUnavailable):
        await server.partitions("d2")
    with pytest.raises(DeviceUnavailable):
        await server.head("nosuch", PART, HASH)


async def test_replication_calls(server: ObjectServer) -> None:
    await server.put("d1", PART, HASH, "0000000001.00000", b"abc", meta("1"))
    assert await server.partitions("d1") == [PART]
    hashes = await server.suffix_hashes("d1", PART)
    assert list(hashes) == [HASH[-3:]]
    files = await server.suffix_files("d1", PART, HASH[-3:])
    assert files == {HASH: ["0000000001.00000.data"]}
    raw = await server.read_file("d1", PART, HASH, "0000000001.00000.data")
    assert diskfile.split(raw)[0] == b"abc"
    await server.write_file("d2", PART, HASH, "0000000001.00000.data", raw)
    assert await server.suffix_hashes("d2", PART) == hashes
    await server.drop_partition("d2", PART)
    assert await server.partitions("d2") == []


async def test_cached_suffix_hashes_follow_every_change(
    server: ObjectServer, tmp_path: Path
) -> None:
    """A partition untouched for a while has its hashes cached; any change shows at once."""
    etag = hashlib.md5(b"one", usedforsecurity=False).hexdigest()
    await server.put("d1", PART, HASH, "0000000001.00000", b"one", meta("1", ETag=etag))
    part_dir = tmp_path / "d1" / "objects" / str(PART)

    def settle() -> None:  # as if the partition had not changed for a while
        old = time.time() - 60 + len(seen)
        seen.append(old)
        os.utime(part_dir, (old, old))

    seen: list[float] = []
    settle()
    first = await server.suffix_hashes("d1", PART)
    assert await server.suffix_hashes("d1", PART) == first  # from the cache now
    if isinstance(server, LocalServer):
        assert server.hashes[(str(tmp_path / "d1"), PART)][1] == first
    other = "f" * 29 + HASH[-3:]  # another object in the same suffix
    await server.put("d1", PART, other, "0000000002.00000", b"two", meta("2"))
    second = await server.suffix_hashes("d1", PART)
    assert second != first
    settle()
    assert await server.suffix_hashes("d1", PART) == second
    await server.delete("d1", PART, other, "0000000003.00000", {"X-Timestamp": "3"})
    third = await server.suffix_hashes("d1", PART)
    assert third not in (first, second)
    settle()
    await server.suffix_hashes("d1", PART)
    path = next(part_dir.glob(f"*/{HASH}/*.data"))
    path.write_bytes(b"X" + path.read_bytes()[1:])  # the auditor's finding moves it away
    assert (await server.audit("d1", PART, HASH, path.name, 0.0))[0] is False
    assert await server.suffix_hashes("d1", PART) != third


async def test_audit_quarantines(server: ObjectServer, tmp_path: Path) -> None:
    etag = hashlib.md5(b"sound", usedforsecurity=False).hexdigest()
    await server.put("d1", PART, HASH, "0000000001.00000", b"sound", meta("1", ETag=etag))
    assert await server.audit("d1", PART, HASH, "0000000001.00000.data", 0.0) == (True, 5)
    path = next((tmp_path / "d1" / "objects").glob("*/*/*/*.data"))
    raw = bytearray(path.read_bytes())
    raw[0] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert (await server.audit("d1", PART, HASH, "0000000001.00000.data", 0.0))[0] is False
    assert await server.head("d1", PART, HASH) is None
    assert list((tmp_path / "d1" / "quarantined").rglob("*.data"))


async def test_pendings(server: ObjectServer) -> None:
    pending = Pending("AUTH_a", "c", "o", "0000000001.00000", False, 3, "text/plain", "e")
    await server.save_pending("d1", pending)
    [(key, found)] = await server.pendings("d1", 10)
    assert found == pending
    await server.drop_pending("d1", key)
    assert await server.pendings("d1", 10) == []


# -- the transport itself ----------------------------------------------------------------------


async def test_wrong_key_is_refused(served: tuple[LocalServer, str]) -> None:
    _local, url = served
    stranger = http_driver.HttpServer(url, http_driver.node_key(b"another cluster"))
    try:
        with pytest.raises(DeviceUnavailable, match="401"):
            await stranger.put("d1", PART, HASH, "0000000001.00000", b"x", meta("1"))
    finally:
        await stranger.close()
    async with httpx.AsyncClient(base_url=url) as bare:
        assert (await bare.get(f"/objects/d1/{PART}/{HASH}")).status_code == 401


async def test_names_are_checked(served: tuple[LocalServer, str], tmp_path: Path) -> None:
    _local, url = served
    async with httpx.AsyncClient(base_url=url, headers={http_driver.KEY_HEADER: KEY}) as client:
        for path in (
            f"/objects/..%2Fescape/{PART}/{HASH}/0000000001.00000.data",
            f"/objects/d1/{PART}/not-a-hash/0000000001.00000.data",
            f"/objects/d1/{PART}/{HASH}/..%2F..%2Fx.data",
            f"/objects/d1/{PART}/{HASH}/notes.txt",
        ):
            response = await client.put(path, content=b"x" + diskfile.trailer({}))
            assert response.status_code in (400, 404), path
        bad = await client.put("/pending/d1", content=b"{not json")
        assert bad.status_code == 400
        odd = await client.put("/pending/d1", content=json.dumps({"who": 1}).encode())
        assert odd.status_code == 400
    assert not list(tmp_path.parent.glob("escape*"))
    assert not list((tmp_path / "d1" / "objects").rglob("*"))


async def test_a_body_without_its_trailer_is_not_stored(
    served: tuple[LocalServer, str], tmp_path: Path
) -> None:
    _local, url = served
    async with httpx.AsyncClient(base_url=url, headers={http_driver.KEY_HEADER: KEY}) as client:
        path = f"/objects/d1/{PART}/{HASH}/0000000001.00000.data"
        response = await client.put(path, content=b"content without metadata")
        assert response.status_code == 400
    assert not list((tmp_path / "d1" / "objects").rglob("*.data"))
    assert os.listdir(tmp_path / "d1" / "tmp") == []


async def test_a_node_that_is_gone_is_unavailable() -> None:
    gone = http_driver.HttpServer(f"http://127.0.0.1:{free_port()}", KEY, conn_timeout=0.5)
    try:
        with pytest.raises(DeviceUnavailable):
            await gone.head("d1", PART, HASH)
        with pytest.raises(DeviceUnavailable):
            await gone.writer("d1", PART, HASH, "0000000001.00000")
        with pytest.raises(DeviceUnavailable):
            _ = [c async for c in gone.read("d1", PART, HASH, "0000000001.00000", 0, 1)]
    finally:
        await gone.close()


async def test_a_hung_node_is_error_limited() -> None:
    """A node that takes connections but never answers: each request waits `node_timeout`
    until the limit is reached; then the node is skipped at once for the interval."""
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)  # never accepted: connections complete, requests get no answer
    url = f"http://127.0.0.1:{hung.getsockname()[1]}"
    node = http_driver.HttpServer(url, KEY, node_timeout=0.2, error_limit=3, error_interval=30)
    try:
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(DeviceUnavailable, match="Timeout"):
                await node.head("d1", PART, HASH)
            assert time.monotonic() - started >= 0.15
        started = time.monotonic()
        with pytest.raises(DeviceUnavailable, match="error-limited"):
            await node.head("d1", PART, HASH)
        with pytest.raises(DeviceUnavailable, match="error-limited"):
            _ = [c async for c in node.read("d1", PART, HASH, "0000000001.00000", 0, 1)]
        assert time.monotonic() - started < 0.1
    finally:
        await node.close()
        hung.close()
