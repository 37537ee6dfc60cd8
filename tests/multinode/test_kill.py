"""Kill -9 of one process of a multi-node cloud in the middle of boots, deletes and moves, then
started again (as systemd would): no server is left in BUILD or with a task, none that was
deleted stays, and builds the bus held for a dead process are built when it is back.

The nodes are namespace hosts: `api` (the APIs), `control` (scheduler and conductor), and the
compute nodes `nodea` and `nodeb` (fake driver)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest

from tests.compute.conftest import wait_for, wait_gone
from tests.helpers import nodes
from tests.multinode.conftest import boot, host_of, hosted_cloud, tiny_image

pytestmark = [pytest.mark.xdist_group("multinode-kill"), pytest.mark.slow]

SETTLED = ("ACTIVE", "ERROR", "SHUTOFF", "VERIFY_RESIZE")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[nodes.Cloud]:
    with hosted_cloud(
        tmp_path_factory.mktemp("kill"),
        OVERCAST_COMPUTE__SERVICE_DOWN_TIME="20",
        OVERCAST_COMPUTE__REPORT_INTERVAL="1",
        OVERCAST_COMPUTE__LOST_BUILD_GRACE="5",
    ) as made:
        made.node("api", "api").start()
        made.node("control", "scheduler,conductor").start()
        made.node("nodea", "compute").start()
        made.node("nodeb", "compute").start()
        yield made


@pytest.fixture(scope="module")
def admin(cloud: nodes.Cloud) -> openstack.connection.Connection:
    return cloud.nodes[0].connect()


@pytest.fixture(scope="module")
def image(admin: openstack.connection.Connection) -> Any:
    return tiny_image(admin)


@pytest.fixture(autouse=True)
def _no_servers_left(admin: openstack.connection.Connection) -> Iterator[None]:
    """Each test starts from no servers, whatever the one before left (the quota is 10)."""
    yield
    _clean(admin, list(admin.compute.servers()))


def _node(cloud: nodes.Cloud, name: str) -> nodes.Node:
    return next(n for n in cloud.nodes if n.data_dir.name == name)


def _settle(admin: openstack.connection.Connection, servers: list[Any]) -> dict[str, Any]:
    """Every server once it has settled (no task, out of BUILD); fails on one that does not."""
    return {s.id: wait_for(admin, s.id, *SETTLED, timeout=90) for s in servers}


def _clean(admin: openstack.connection.Connection, servers: list[Any]) -> None:
    for server in servers:
        admin.compute.delete_server(server.id)
    for server in servers:
        wait_gone(admin, server.id, timeout=60)


def test_conductor_killed_during_boots(
    cloud: nodes.Cloud, admin: openstack.connection.Connection, image: Any
) -> None:
    control = _node(cloud, "control")
    slow = {"fake:spawn_delay": "1"}
    booted = [boot(admin, image, f"kc-{i}", metadata=slow) for i in range(4)]
    control.kill()
    # Casts to the dead conductor wait in RabbitMQ: they are built once it is back.
    queued = [boot(admin, image, f"kc-q-{i}") for i in range(4)]
    control.start()
    settled = _settle(admin, booted + queued)
    for server in booted:
        found = settled[server.id]
        assert found.status == "ACTIVE" or found.fault, found
    faults = [settled[s.id].fault for s in queued if settled[s.id].status != "ACTIVE"]
    assert faults == []
    _clean(admin, booted + queued)


def test_compute_killed_during_boots_and_deletes(
    cloud: nodes.Cloud, admin: openstack.connection.Connection, image: Any
) -> None:
    nodeb = _node(cloud, "nodeb")
    spawning = [
        boot(admin, image, f"kb-{i}", availability_zone="nova:nodeb-1",
             metadata={"fake:spawn_delay": "60"})
        for i in range(3)
    ]  # fmt: skip
    deadline = time.monotonic() + 30
    while not all(admin.compute.get_server(s.id).task_state == "spawning" for s in spawning):
        assert time.monotonic() < deadline, "the builds never reached nodeb"
        time.sleep(0.1)
    nodeb.kill()
    nodeb.start()
    for server in _settle(admin, spawning).values():
        assert server.status == "ERROR" and "interrupted" in server.fault["message"]
    # Deletes on a host that dies at once: it finishes them when it is back.
    running = [boot(admin, image, f"kd-{i}", availability_zone="nova:nodeb-1") for i in range(3)]
    _settle(admin, running)
    for server in running:
        admin.compute.delete_server(server.id)
    nodeb.kill()
    nodeb.start()
    for server in running:
        wait_gone(admin, server.id, timeout=60)
    _clean(admin, spawning)


def test_api_killed_during_boots(
    cloud: nodes.Cloud, admin: openstack.connection.Connection, image: Any
) -> None:
    api = _node(cloud, "api")
    booted = [boot(admin, image, f"ka-{i}") for i in range(4)]
    api.kill()
    api.start()
    admin = api.connect()
    settled = _settle(admin, booted)
    assert {s.status for s in settled.values()} == {"ACTIVE"}
    _clean(admin, booted)


def test_destination_killed_during_a_cold_migration(
    cloud: nodes.Cloud, admin: openstack.connection.Connection, image: Any
) -> None:
    server = wait_for(admin, boot(admin, image, "km", availability_zone="nova:nodea-1").id,
                      "ACTIVE", timeout=60)  # fmt: skip
    # The destination's half of the move (a spawn there) now takes long enough to be killed in.
    admin.compute.set_server_metadata(server, **{"fake:spawn_delay": "60"})
    admin.compute.migrate_server(server, host="nodeb-1")
    deadline = time.monotonic() + 30
    while admin.compute.get_server(server.id).task_state != "resize_migrated":
        assert time.monotonic() < deadline, "the source never handed the move over"
        time.sleep(0.1)
    time.sleep(1)  # nodeb is spawning (or the hand-over waits in its queue: either is tested)
    _node(cloud, "nodeb").kill()
    _node(cloud, "nodeb").start()
    # The move is aborted: the server is back at its source, stopped as the move left it, and
    # starts there; the migration says error.
    back = wait_for(admin, server.id, "SHUTOFF", "ACTIVE", timeout=60)
    assert host_of(admin, back.id) == "nodea-1"
    (move,) = list(admin.compute.migrations(instance_uuid=server.id))
    assert move.status == "error"
    if back.status == "SHUTOFF":
        admin.compute.start_server(server)
    assert wait_for(admin, server.id, "ACTIVE", timeout=30)
    _clean(admin, [server])


def test_api_workers_end_with_their_supervisor_killed(tmp_path: Path) -> None:
    """`serve --workers 2` killed -9 cannot stop its workers itself: the kernel ends them
    (PR_SET_PDEATHSIG), so none is left serving on the node's port."""
    reason = nodes.unavailable()
    if reason:
        pytest.skip(reason)
    with nodes.cloud(tmp_path) as made:
        _kill_supervisor(made.node("apis", "api", workers=2).start())


def _kill_supervisor(node: nodes.Node) -> None:
    assert node.process is not None
    supervisor = node.process.pid
    workers = [
        int(p) for p in Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    ]
    assert len(workers) == 2
    node.process.kill()
    node.process.wait()
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{pid}").exists() for pid in workers):
        assert time.monotonic() < deadline, "an API worker outlived its supervisor"
        time.sleep(0.2)
