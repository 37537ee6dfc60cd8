"""Object servers on two nodes behind one proxy, each node a namespace host of its own: the
proxy (`--role controller`) holds no device and reaches every device over HTTP across the test
bridge, at the object servers that `--role object` runs on two nodes (three devices each, at
the node's own address). Every object has replicas on both nodes. With one node killed, reads
and writes still succeed (its replicas go to handoffs on the other); when it returns, the
replicators bring its devices up to date and the handoffs go home. Both nodes run the container
syncer, yet each synced container is replayed by one of them, and by the other while the
first is down."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from overcast.object_store.drivers.local import init_device
from overcast.object_store.ring.builder import RingBuilder
from overcast.object_store.ring.ring import Ring
from tests.multinode.conftest import hosted_cloud
from tests.object_store.conftest import swift_conn

pytestmark = [pytest.mark.xdist_group("multinode-object-servers"), pytest.mark.slow]

SALT = b"0123456789abcdef0123456789abcdef"
PORT = 6200  # each node's own namespace: the same port on every node, as Swift's servers use


def ring_for(roots: list[Path], urls: list[str]) -> None:
    """What an operator does before starting the nodes: build the ring once, copy it (and the
    cluster's hash salt) to every node, and make each object node's own devices."""
    builder = RingBuilder(part_power=4, replicas=3, min_part_hours=0)
    for zone, url in enumerate(urls, start=1):
        for n in range(1, 4):
            builder.add_device(region=1, zone=zone, weight=100.0, device=f"z{zone}d{n}", host=url)
    builder.rebalance(seed=1)
    for root in roots:
        store = root / "object-store"
        (store / "devices").mkdir(parents=True)
        (store / "hash_path_salt").write_bytes(SALT)
        builder.save(store / "object.builder")
        builder.write_ring(store / "object.ring.json.gz")
    for zone, root in enumerate(roots[1:], start=1):
        for n in range(1, 4):
            init_device(root / "object-store" / "devices" / f"z{zone}d{n}")


def copies(root: Path, data: bytes) -> list[Path]:
    found = (root / "object-store" / "devices").glob("*/objects/*/*/*/*.data")
    return [p for p in found if p.read_bytes().startswith(data)]


def wait_for(check: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def synced(log: Path) -> list[str]:
    """The containers a node's syncer replayed changes of, once per change."""
    lines = (json.loads(line) for line in log.read_text().splitlines() if line.startswith("{"))
    return [
        entry["container"]
        for entry in lines
        if entry.get("message") == "container synced"
        for _ in range(entry["changes"])
    ]


def test_two_object_nodes_one_killed(tmp_path: Path) -> None:
    fast = {
        "OVERCAST_OBJECT_STORE__REPLICATOR_INTERVAL": "0.5",
        "OVERCAST_OBJECT_STORE__SYNC_INTERVAL": "0.5",
        # a node that was down is asked again soon after it returns (default: a minute)
        "OVERCAST_OBJECT_STORE__ERROR_SUPPRESSION_INTERVAL": "3",
    }
    with hosted_cloud(tmp_path, **fast) as cloud:
        proxy = cloud.node("proxy", "controller")
        servers = [cloud.node(f"obj{n}", "object") for n in (1, 2)]
        urls = [f"http://{s.env['OVERCAST_MY_IP']}:{PORT}" for s in servers]
        for server, url in zip(servers, urls, strict=True):
            server.env["OVERCAST_OBJECT_STORE__SERVER_URL"] = url
        # a realm whose one cluster is this cloud, as every node reaches its API
        realm = {
            "r": {
                "key": "k",
                "clusters": {"here": f"{cloud.env['OVERCAST_PUBLIC_URL']}/object-store/v1/"},
            }
        }
        for node in [proxy, *servers]:
            node.env["OVERCAST_OBJECT_STORE__SYNC_REALMS"] = json.dumps(realm)
        ring_for([proxy.data_dir, *(s.data_dir for s in servers)], urls)
        ring = Ring(proxy.data_dir / "object-store" / "object.ring.json.gz", b"", SALT)
        proxy.start(timeout=300)  # first: it makes the database
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda node: node.start(), servers))
        conn = swift_conn(proxy, "admin", proxy.password("admin"), "admin")
        account = f"AUTH_{conn.get_auth()[0].rsplit('AUTH_', 1)[1]}"
        conn.put_container("c")
        before = b"written with both nodes up " * 100
        conn.put_object("c", "before", before)
        spread = [len(copies(s.data_dir, before)) for s in servers]
        assert sum(spread) == 3 and all(spread), spread  # both nodes hold replicas
        assert not list((proxy.data_dir / "object-store" / "devices").iterdir())

        # one synced container whose name falls to each node's devices first
        def first_host(name: str) -> str:
            return ring.primaries(ring.partition(ring.hash_of(account, name)))[0].host

        names = (f"sync{n}" for n in range(1000))
        sources = [next(n for n in names if first_host(n) == url) for url in urls]
        conn.put_container("dst", headers={"X-Container-Sync-Key": "same"})
        for source in sources:
            conn.put_container(
                source,
                headers={
                    "X-Container-Sync-To": f"//r/here/{account}/dst",
                    "X-Container-Sync-Key": "same",
                },
            )
            conn.put_object(source, f"from-{source}", b"synced")
        wait_for(
            lambda: [synced(s.log) for s in servers] == [[sources[0]], [sources[1]]],
            "each synced container was not replayed once, by its node",
            timeout=20,
        )
        assert len(conn.get_container("dst")[1]) == 2

        servers[1].kill()
        assert conn.get_object("c", "before")[1] == before
        during = b"written while node 2 was down " * 3000  # streamed, over 64 KiB
        conn.put_object("c", "during", during)
        small = b"small, while node 2 was down"
        conn.put_object("c", "small", small)
        assert len(copies(servers[0].data_dir, during)) == 3  # primaries and handoffs on node 1
        assert conn.get_object("c", "during")[1] == during
        assert [o["name"] for o in conn.get_container("c")[1]] == ["before", "during", "small"]
        conn.put_object(sources[1], "while-down", b"synced by node 1")
        wait_for(
            lambda: "while-down" in {o["name"] for o in conn.get_container("dst")[1]},
            "node 1 did not take over node 2's synced container",
        )
        wait_for(
            lambda: synced(servers[0].log) == sources, "node 1 did not replay it once", timeout=10
        )
        conn.delete_object("c", "before")

        servers[1].start()

        def home(name: str, data: bytes) -> bool:
            """Each replica on its primary device, and nowhere else."""
            part = ring.partition(ring.hash_of(account, "c", name))
            wanted = sorted(n.device for n in ring.primaries(part))
            held = sorted(p.parts[-6] for s in servers for p in copies(s.data_dir, data))
            return held == wanted

        wait_for(lambda: home("during", during), "the replicas did not go home")
        wait_for(lambda: home("small", small), "the small object did not go home")
        wait_for(lambda: not copies(servers[1].data_dir, before), "the delete did not replicate")
        assert conn.get_object("c", "during")[1] == during
        log = servers[0].log.read_text()
        assert "object server listening" in log and urls[0] in log
