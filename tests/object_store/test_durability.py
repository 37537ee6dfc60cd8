"""Failures on real directories: a device removed or read-only (every object stays readable
and writable, the replicator catches the device up when it is back), a handoff used while a
primary is down and emptied when it is back, flipped bytes found by the auditor and repaired,
and kill -9 during a stream of uploads (every acknowledged object survives, whole and listed).

One private cloud for the module, with fast daemon intervals; each test puts back what it
breaks.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import swiftclient

from overcast.object_store.daemons import expirer
from tests.helpers.server import Server
from tests.object_store.conftest import swift_conn

FAST = {
    "OVERCAST_OBJECT_STORE__REPLICATOR_INTERVAL": "0.5",
    "OVERCAST_OBJECT_STORE__UPDATER_INTERVAL": "0.5",
    "OVERCAST_OBJECT_STORE__AUDITOR_FILES_PER_SECOND": "500",
    "OVERCAST_OBJECT_STORE__AUDITOR_INTERVAL": "0.5",
    "OVERCAST_OBJECT_STORE__PART_POWER": "4",
    "OVERCAST_OBJECT_STORE__EXPIRER_INTERVAL": "0.5",
}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("durable"), env=FAST)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def conn(cloud: Server) -> swiftclient.Connection:
    return swift_conn(cloud, "admin", cloud.password("admin"), "admin")


def devices(cloud: Server) -> Path:
    return cloud.data_dir / "object-store" / "devices"


def replicas(cloud: Server, data: bytes) -> list[Path]:
    """The data files on every device whose content starts with `data` (the daemons keep
    removing emptied directories and files while the walk runs: a walk that meets one gone
    is taken again)."""
    while True:
        try:
            return [
                path
                for path in devices(cloud).glob("*/objects/*/*/*/*.data")
                if path.read_bytes().startswith(data)
            ]
        except FileNotFoundError:
            continue


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


@contextlib.contextmanager
def removed(device: Path) -> Iterator[None]:
    aside = device.with_name(device.name + ".out")
    device.rename(aside)
    try:
        yield
    finally:
        aside.rename(device)


@contextlib.contextmanager
def read_only(device: Path) -> Iterator[None]:
    try:
        subprocess.run(
            ["mount", "--bind", str(device), str(device)], check=True, capture_output=True
        )
    except (subprocess.CalledProcessError, FileNotFoundError):
        pytest.skip("bind mounts are not available here")
    try:
        subprocess.run(
            ["mount", "-o", "remount,ro,bind", str(device)], check=True, capture_output=True
        )
        yield
    finally:
        subprocess.run(["umount", str(device)], check=True, capture_output=True)


@pytest.mark.parametrize("breakage", [removed, read_only])
def test_one_device_down_loses_nothing(
    cloud: Server, conn: swiftclient.Connection, breakage
) -> None:  # type: ignore[no-untyped-def]
    name = f"dev-{uuid.uuid4().hex[:6]}"
    conn.put_container(name)
    before = {f"before-{n}": os.urandom(2000 + n) for n in range(10)}
    for key, data in before.items():
        conn.put_object(name, key, data)
    d1 = devices(cloud) / "d1"
    with breakage(d1):
        for key, data in before.items():
            assert conn.get_object(name, key)[1] == data
        during = {f"during-{n}": uuid.uuid4().bytes * 8 for n in range(10)}
        for key, data in during.items():
            conn.put_object(name, key, data)
        conn.delete_object(name, "before-0")
        for key, data in during.items():
            assert conn.get_object(name, key)[1] == data
    # back in service: the replicator gives it what it missed, the delete included
    wait_for(lambda: all(len(replicas(cloud, d)) == 3 for d in during.values()))
    wait_for(lambda: not any(p.is_relative_to(d1) for p in replicas(cloud, before["before-0"])))
    listed = {o["name"] for o in conn.get_container(name)[1]}
    assert listed == (set(before) - {"before-0"}) | set(during)


def test_auditor_quarantines_and_replicator_repairs(
    cloud: Server, conn: swiftclient.Connection
) -> None:
    name = f"audit-{uuid.uuid4().hex[:6]}"
    conn.put_container(name)
    data = b"precious " + uuid.uuid4().bytes * 100
    conn.put_object(name, "o", data)
    victim = replicas(cloud, data)[0]
    raw = bytearray(victim.read_bytes())
    raw[3] ^= 0xFF  # flip bits in the content, keep the size
    victim.write_bytes(bytes(raw))
    quarantine = victim.parents[4] / "quarantined" / "objects" / victim.parent.name / victim.name
    wait_for(quarantine.exists)
    wait_for(lambda: victim.exists() and victim.read_bytes().startswith(data))
    for _ in range(5):
        assert conn.get_object(name, "o")[1] == data


def test_handoff_takes_writes_and_goes_home(cloud: Server, conn: swiftclient.Connection) -> None:
    subprocess.run(
        [
            Path(os.sys.executable).parent / "overcast",
            "ring",
            "add",
            "--zone",
            "4",
            "--device",
            "d4",
            "--data-dir",
            str(cloud.data_dir),
        ],
        check=True,
        capture_output=True,
    )
    # min_part_hours (1) keeps every partition where it is for now: d4 is a handoff only
    subprocess.run(
        [
            Path(os.sys.executable).parent / "overcast",
            "ring",
            "rebalance",
            "--data-dir",
            str(cloud.data_dir),
        ],
        check=True,
        capture_output=True,
    )
    time.sleep(1.2)  # the ring reloads within a second
    name = f"hand-{uuid.uuid4().hex[:6]}"
    conn.put_container(name)
    objects = {f"o{n}": uuid.uuid4().bytes * 4 for n in range(12)}
    d2 = devices(cloud) / "d2"
    with removed(d2):
        for key, data in objects.items():
            conn.put_object(name, key, data)
        # three replicas each even with d2 gone: the handoff took d2's share
        for data in objects.values():
            assert len(replicas(cloud, data)) == 3
    wait_for(lambda: all(len(replicas(cloud, d)) == 3 for d in objects.values()))
    for key, data in objects.items():
        assert conn.get_object(name, key)[1] == data


def test_kill_during_uploads_keeps_acknowledged(tmp_path: Path) -> None:
    srv = Server(tmp_path / "crash", env=FAST).start()
    try:
        conn = swift_conn(srv, "admin", srv.password("admin"), "admin")
        conn.put_container("c")
        acked: dict[str, str] = {}
        stop = threading.Event()

        def upload(worker: int) -> None:
            c = swift_conn(srv, "admin", srv.password("admin"), "admin")
            n = 0
            while not stop.is_set():
                data = os.urandom(1000 + (n % 5) * 40_000)
                key = f"w{worker}-{n}"
                try:
                    c.put_object("c", key, data)
                except Exception:  # noqa: BLE001 - the server died mid-request
                    return
                acked[key] = hashlib.md5(data).hexdigest()
                n += 1

        threads = [threading.Thread(target=upload, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        assert srv.process is not None
        files = _file_processes(srv.process.pid)
        assert files  # small objects are read and written by the file processes
        srv.kill()
        stop.set()
        for t in threads:
            t.join()
        assert len(acked) > 5
        # the file processes end with the server that started them (their socket closes)
        wait_for(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in files))
        srv.start()
        conn = swift_conn(srv, "admin", srv.password("admin"), "admin")
        for key, etag in acked.items():
            headers, body = conn.get_object("c", key)
            assert hashlib.md5(body).hexdigest() == etag == headers["etag"]
        listed = {o["name"] for o in conn.get_container("c", full_listing=True)[1]}
        assert set(acked) <= listed
        assert not list((srv.data_dir / "object-store" / "devices").glob("*/tmp/*"))
    finally:
        srv.stop()


def _file_processes(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [
        int(child)
        for child in children
        if b"child_worker" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def test_updater_makes_async_pendings(cloud: Server, conn: swiftclient.Connection) -> None:
    """A listing update kept on a device (as when the database could not take it) is made by
    the updater, and an older one never undoes a newer."""
    import asyncio

    from overcast.object_store.drivers import Pending
    from overcast.object_store.drivers.local import LocalServer

    name = f"pend-{uuid.uuid4().hex[:6]}"
    conn.put_container(name)
    conn.put_object(name, "newer", b"0123456789")
    account = conn.get_auth()[0].rsplit("/", 1)[1]
    server = LocalServer(devices(cloud))
    pendings = [
        Pending(account, name, "late", "0000000002.00000", False, 42, "text/plain", "e" * 32),
        Pending(account, name, "newer", "0000000001.00000", True),  # older than the PUT
    ]

    async def save() -> None:
        for pending in pendings:
            await server.save_pending("d3", pending)
        await server.close()

    asyncio.run(save())
    wait_for(lambda: not list((devices(cloud) / "d3" / "async_pending").iterdir()))
    listed = {o["name"]: o for o in conn.get_container(name)[1]}
    assert set(listed) == {"late", "newer"}
    assert listed["late"]["bytes"] == 42
    assert conn.head_container(name)["x-container-bytes-used"] == str(42 + 10)


async def test_expirer_reads_past_other_nodes_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a node that owns few of the due rows, the expirer pages past the others' (which
    their own nodes delete) instead of reading the same first page every pass."""
    monkeypatch.setattr(expirer, "BATCH", 3)
    rows = [("theirs", n) for n in range(7)] + [("mine", n) for n in range(4)]

    async def page(offset: int) -> list[tuple[str, int]]:
        return rows[offset : offset + 3]

    async def mine(row: tuple[str, int]) -> bool:
        return row[0] == "mine"

    async def none(_row: tuple[str, int]) -> bool:
        return False

    assert await expirer.owned(page, mine) == [("mine", 0), ("mine", 1), ("mine", 2)]
    assert await expirer.owned(page, none) == []


def test_expirer_deletes_expired_objects(cloud: Server, conn: swiftclient.Connection) -> None:
    name = f"exp-{uuid.uuid4().hex[:6]}"
    conn.put_container(name)
    data = b"short-lived " + uuid.uuid4().bytes
    conn.put_object(name, "gone", data, headers={"X-Delete-After": "1"})
    conn.put_object(name, "kept", b"stays")
    assert len(replicas(cloud, data)) == 3
    # the expirer tombstones every replica and the listing forgets the object
    wait_for(lambda: not replicas(cloud, data))
    wait_for(lambda: [o["name"] for o in conn.get_container(name)[1]] == ["kept"])
    assert conn.head_container(name)["x-container-object-count"] == "1"
