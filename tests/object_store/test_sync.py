"""Container sync between two accounts of the test cloud, as Swift's container-sync does it:
through the realm the shared server configures (`//test/here/...`, tests/conftest.py) and by
URL; writes, deletes and POSTs' metadata replayed both ways with their timestamps, nothing
synced without the same key at both ends, bad targets refused, a forged signature refused.
Which node syncs a container, on a ring of several nodes, is checked on the ring itself."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import swiftclient
from swiftclient import ClientException

from overcast.object_store import diskfile, sync
from overcast.object_store.daemons.owners import Owners
from overcast.object_store.drivers.local import LocalServer, init_device
from overcast.object_store.proxy.placement import Placement
from overcast.object_store.ring.builder import RingBuilder
from overcast.object_store.ring.ring import Ring
from tests.conftest import SYNC_REALM_KEY
from tests.helpers.server import Server


def _account(conn: swiftclient.Connection) -> str:
    return str(conn.get_auth()[0].rsplit("/", 1)[1])


def _names(conn: swiftclient.Connection, container: str) -> set[str]:
    return {entry["name"] for entry in conn.get_container(container)[1]}


def _until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "container sync did not happen in time"
        time.sleep(0.3)


@pytest.fixture
def pair(swift: swiftclient.Connection, tenant_swift):  # type: ignore[no-untyped-def]
    """Two containers in two accounts, syncing to each other through the realm."""
    _tenant, other = tenant_swift()
    a, b = f"sync-a-{uuid.uuid4().hex[:6]}", f"sync-b-{uuid.uuid4().hex[:6]}"
    swift.put_container(
        a,
        headers={
            "X-Container-Sync-To": f"//test/here/{_account(other)}/{b}",
            "X-Container-Sync-Key": "shared",
        },
    )
    other.put_container(
        b,
        headers={
            "X-Container-Sync-To": f"//TEST/HERE/{_account(swift)}/{a}",
            "X-Container-Sync-Key": "shared",
        },
    )
    return swift, a, other, b


def test_sync_through_a_realm_both_ways(pair) -> None:  # type: ignore[no-untyped-def]
    swift, a, other, b = pair
    swift.put_object(a, "from-a", b"A", headers={"X-Object-Meta-Color": "blue"})
    other.put_object(b, "from-b", b"B", content_type="text/x-b")
    _until(lambda: _names(swift, a) == _names(other, b) == {"from-a", "from-b"})
    headers, data = other.get_object(b, "from-a")
    assert data == b"A" and headers["x-object-meta-color"] == "blue"
    assert headers["x-timestamp"] == swift.head_object(a, "from-a")["x-timestamp"]
    assert swift.get_object(a, "from-b")[0]["content-type"] == "text/x-b"
    # a rewrite and a delete follow
    swift.put_object(a, "from-a", b"A2")
    other.delete_object(b, "from-b")
    _until(lambda: other.get_object(b, "from-a")[1] == b"A2" and _names(swift, a) == {"from-a"})
    # a POST's metadata follows (the whole object is sent again, as of the POST)
    swift.post_object(a, "from-a", {"X-Object-Meta-Color": "red", "Content-Type": "text/x-posted"})
    _until(lambda: other.head_object(b, "from-a").get("x-object-meta-color") == "red")
    headers, data = other.get_object(b, "from-a")
    assert data == b"A2" and headers["content-type"] == "text/x-posted"
    assert headers["x-timestamp"] == swift.head_object(a, "from-a")["x-timestamp"]
    assert other.get_container(b)[1][0]["content_type"] == "text/x-posted"
    # the sync headers are the owner's to see
    assert swift.head_container(a)["x-container-sync-key"] == "shared"
    swift.post_container(a, {"X-Container-Read": ".r:*,.rlistings"})
    url = swift.get_auth()[0]
    anonymous = httpx.head(f"{url}/{a}")
    assert anonymous.status_code == 204
    assert "x-container-sync-key" not in anonymous.headers
    assert "x-container-sync-to" not in anonymous.headers


def test_sync_by_url_and_only_with_the_same_key(
    server: Server, swift: swiftclient.Connection, tenant_swift
) -> None:  # type: ignore[no-untyped-def]
    _tenant, other = tenant_swift()
    src, dst, locked = (f"{n}-{uuid.uuid4().hex[:6]}" for n in ("src", "dst", "locked"))
    other.put_container(dst, headers={"X-Container-Sync-Key": "url-key"})
    other.put_container(locked, headers={"X-Container-Sync-Key": "another-key"})
    base = f"{server.url}/object-store/v1/{_account(other)}"
    swift.put_container(
        src, headers={"X-Container-Sync-To": f"{base}/{dst}", "X-Container-Sync-Key": "url-key"}
    )
    swift.put_object(src, "doc", b"by url")
    _until(lambda: _names(other, dst) == {"doc"})
    assert other.get_object(dst, "doc")[1] == b"by url"
    # a target whose key differs takes nothing
    swift.post_container(src, {"X-Container-Sync-To": f"{base}/{locked}"})
    swift.put_object(src, "doc2", b"not for them")
    time.sleep(2.5)
    assert _names(other, locked) == set()


@pytest.mark.parametrize(
    "target",
    [
        "//test/here/AUTH_x",  # too short
        "//test/here/AUTH_x/c/extra",
        "//nowhere/here/AUTH_x/c",  # no such realm
        "//test/nowhere/AUTH_x/c",  # no such cluster
        "ftp://127.0.0.1/v1/AUTH_x/c",
        "http://example.com/v1/AUTH_x/c",  # not an allowed host
        "http://127.0.0.1:1/",  # no account or container
    ],
)
def test_bad_sync_targets_refused(
    swift: swiftclient.Connection, container: str, target: str
) -> None:
    with pytest.raises(ClientException) as info:
        swift.post_container(container, {"X-Container-Sync-To": target})
    assert info.value.http_status == 400
    assert "x-container-sync-to" not in swift.head_container(container)


def test_sync_requests_are_checked(swift: swiftclient.Connection, container: str) -> None:
    """What the receiving end lets in: the container's key, a realm's signature when there is
    one, and never an older timestamp over a newer object."""
    swift.post_container(container, {"X-Container-Sync-Key": "recv"})
    url = swift.get_auth()[0]
    path = f"{url}/{container}/in"
    ts = f"{time.time():016.5f}"
    raw_path = httpx.URL(path).raw_path.decode()

    def put(key: str, auth: str = "", at: str = ts) -> int:
        headers = {"X-Container-Sync-Key": key, "X-Timestamp": at, "Content-Length": "2"}
        if auth:
            headers["X-Container-Sync-Auth"] = auth
        return httpx.put(path, headers=headers, content=b"in").status_code

    assert put("wrong") == 401  # an anonymous request like any other
    assert put("recv", auth="TEST nonce forged") == 401
    signed = sync.signature(SYNC_REALM_KEY, "PUT", raw_path, ts, "n1", "recv")
    assert put("recv", auth=f"TEST n1 {signed}") == 201
    assert swift.head_object(container, "in")["x-timestamp"] == ts
    older = f"{float(ts) - 10:016.5f}"
    signed = sync.signature(SYNC_REALM_KEY, "PUT", raw_path, older, "n2", "recv")
    assert put("recv", auth=f"TEST n2 {signed}", at=older) == 409
    assert swift.get_object(container, "in")[1] == b"in"
    # a replay as of a POST the object already had (a sync coming back) is not taken again
    swift.post_object(container, "in", {"X-Object-Meta-Posted": "yes"})
    posted = swift.head_object(container, "in")["x-timestamp"]
    assert posted > ts
    signed = sync.signature(SYNC_REALM_KEY, "PUT", raw_path, posted, "n3", "recv")
    assert put("recv", auth=f"TEST n3 {signed}", at=posted) == 409
    assert swift.head_object(container, "in")["x-object-meta-posted"] == "yes"


async def test_one_node_syncs_each_container(tmp_path: Path) -> None:
    """Three nodes of two devices each: every container is synced by exactly one, the one
    holding the first primary device of the container's partition; with that node's devices
    out of service, by exactly one other."""
    hosts = [f"http://node{n}:6200" for n in (1, 2, 3)]
    builder = RingBuilder(part_power=4, replicas=3, min_part_hours=0)
    for zone, host in enumerate(hosts, start=1):
        for d in (1, 2):
            builder.add_device(region=1, zone=zone, weight=100.0, device=f"d{zone}{d}", host=host)
    builder.rebalance(seed=1)
    builder.write_ring(tmp_path / "ring.json.gz")
    ring = Ring(tmp_path / "ring.json.gz", b"", b"salt")
    servers = {
        host: LocalServer(tmp_path / str(n), threads=1, files=1) for n, host in enumerate(hosts)
    }
    for node in ring.devices():
        init_device(servers[node.host].root / node.device)
    placements = {
        host: Placement(ring, servers[host], servers.__getitem__, frozenset({host}))
        for host in hosts
    }
    names = [f"c{n}" for n in range(40)]

    async def owners(name: str) -> list[str]:
        """The hosts that would sync `name` in a pass begun now."""
        return [h for h, p in placements.items() if await Owners(p).mine("AUTH_test", name)]

    try:
        first = {}
        for name in names:
            found = await owners(name)
            part = ring.partition(ring.hash_of("AUTH_test", name))
            assert found == [ring.primaries(part)[0].host], name
            first[name] = found[0]
        assert len(Counter(first.values())) == 3  # the work is spread over the nodes
        for node in ring.devices():
            if node.host == hosts[0]:
                (servers[hosts[0]].root / node.device / diskfile.MARKER).unlink()
        for name in names:
            found = await owners(name)
            assert len(found) == 1 and found[0] != hosts[0], name
            if first[name] != hosts[0]:
                assert found == [first[name]]  # the others' containers stay where they were
    finally:
        for server in servers.values():
            await server.close()
