"""A cloud of several processes on one machine, on RabbitMQ and PostgreSQL: a controller
(`serve --role controller --workers 2`) and two compute nodes (`serve --role compute`, fake
driver), each node a host of its own (a network namespace on the test's bridge, see
`tests.helpers.fabric`). Servers land on both nodes and move between them; a revocation holds
in every API worker at once; a RabbitMQ restart in the middle of boots loses none; a stopped
node goes down and its server is evacuated."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openstack
import pytest

from tests.compute.conftest import wait_for
from tests.helpers import nodes, rabbit
from tests.multinode.conftest import boot, host_of, hosted_cloud, tiny_image

pytestmark = [pytest.mark.xdist_group("multinode-processes"), pytest.mark.slow]

DOWN_AFTER = 20.0  # compute.service_down_time: longer than a RabbitMQ restart


@pytest.fixture(scope="module")
def broker() -> Iterator[rabbit.Broker]:
    """This module's own RabbitMQ, which one test restarts."""
    with rabbit.private() as made:
        yield made


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, broker: rabbit.Broker) -> Iterator[nodes.Cloud]:
    with hosted_cloud(
        tmp_path_factory.mktemp("multi"),
        broker,
        OVERCAST_COMPUTE__SERVICE_DOWN_TIME=str(DOWN_AFTER),
        OVERCAST_COMPUTE__REPORT_INTERVAL="1",
    ) as made:
        made.node("controller", "controller", workers=2).start()
        made.node("nodea", "compute").start()
        made.node("nodeb", "compute").start()
        yield made


@pytest.fixture(scope="module")
def controller(cloud: nodes.Cloud) -> nodes.Node:
    return cloud.nodes[0]


@pytest.fixture(scope="module")
def admin(controller: nodes.Node) -> openstack.connection.Connection:
    return controller.connect()


@pytest.fixture(scope="module")
def image(admin: openstack.connection.Connection) -> Any:
    return tiny_image(admin)


def test_every_process_is_a_service_and_servers_land_on_both_nodes(
    admin: openstack.connection.Connection, image: Any
) -> None:
    services = {(s.binary, s.host): s.state for s in admin.compute.services()}
    assert services == {
        ("nova-scheduler", "controller"): "up",
        ("nova-conductor", "controller"): "up",
        ("nova-compute", "nodea-1"): "up",
        ("nova-compute", "nodeb-1"): "up",
    }
    # Each node is its own host, at its own address.
    addresses = {h.name: h.host_ip for h in admin.compute.hypervisors(details=True)}
    assert addresses == {"nodea-1": "10.231.0.2", "nodeb-1": "10.231.0.3"}
    booted = [boot(admin, image, f"spread-{i}") for i in range(4)]
    hosts = {host_of(admin, wait_for(admin, s.id, "ACTIVE").id) for s in booted}
    assert hosts == {"nodea-1", "nodeb-1"}
    for server in booted:
        admin.compute.delete_server(server.id)


def test_a_revoked_token_fails_at_once_in_every_api_worker(controller: nodes.Node) -> None:
    admin = controller.connect()
    token = admin.auth_token
    doomed = controller.connect().auth_token
    url = controller.url + "/v3/auth/tokens"

    def check(subject: str) -> int:
        # A new connection each time, so the requests spread over both workers.
        headers = {"X-Auth-Token": token, "X-Subject-Token": subject}
        return httpx.get(url, headers=headers, timeout=10).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert set(pool.map(check, [doomed] * 40)) == {200}  # now cached in both workers
        response = httpx.delete(url, headers={"X-Auth-Token": token, "X-Subject-Token": doomed})
        assert response.status_code == 204
        assert set(pool.map(check, [doomed] * 40)) == {404}


def test_cold_and_live_migration_between_nodes(
    controller: nodes.Node, admin: openstack.connection.Connection, image: Any
) -> None:
    server = wait_for(admin, boot(admin, image, "mover").id, "ACTIVE")
    source = host_of(admin, server.id)
    other = {"nodea-1": "nodeb-1", "nodeb-1": "nodea-1"}[source]
    controller.cli("server", "migrate", "--wait", server.id)
    wait_for(admin, server.id, "VERIFY_RESIZE")
    controller.cli("server", "resize", "confirm", server.id)
    wait_for(admin, server.id, "ACTIVE")
    assert host_of(admin, server.id) == other
    controller.cli(
        "--os-compute-api-version",
        "2.56",
        "server",
        "migrate",
        "--live-migration",
        "--host",
        source,
        "--wait",
        server.id,
    )
    wait_for(admin, server.id, "ACTIVE")
    assert host_of(admin, server.id) == source
    admin.compute.delete_server(server.id)


def test_restarting_rabbitmq_in_the_middle_of_boots_loses_none(
    admin: openstack.connection.Connection, image: Any, broker: rabbit.Broker
) -> None:
    booted = [boot(admin, image, f"through-restart-{i}") for i in range(4)]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        restarting = pool.submit(broker.restart, 1.0)
        time.sleep(0.5)
        booted += [boot(admin, image, f"through-restart-{i}") for i in range(4, 8)]
        restarting.result()
    booted += [boot(admin, image, f"through-restart-{i}") for i in range(8, 10)]
    for server in booted:
        assert wait_for(admin, server.id, "ACTIVE", timeout=90).status == "ACTIVE"
    for server in booted:
        admin.compute.delete_server(server.id)


def test_a_stopped_node_goes_down_and_its_server_is_evacuated(
    cloud: nodes.Cloud, controller: nodes.Node, admin: openstack.connection.Connection, image: Any
) -> None:
    nodeb = cloud.nodes[2]
    on_b = None
    for i in range(6):  # the weighers spread servers, so one lands on nodeb-1 soon
        server = wait_for(admin, boot(admin, image, f"evac-{i}").id, "ACTIVE")
        if host_of(admin, server.id) == "nodeb-1":
            on_b = server
            break
    assert on_b is not None, "no server landed on nodeb-1"
    nodeb.stop()
    deadline = time.monotonic() + DOWN_AFTER + 20
    while next(s.state for s in admin.compute.services() if s.host == "nodeb-1") != "down":
        assert time.monotonic() < deadline, "nodeb-1 never went down"
        time.sleep(0.5)
    admin.compute.evacuate_server(on_b, host="nodea-1")
    moved = wait_for(admin, on_b.id, "SHUTOFF", "ACTIVE")  # SHUTOFF from microversion 2.95
    assert host_of(admin, moved.id) == "nodea-1"
    nodeb.start()
    deadline = time.monotonic() + 30
    while next(s.state for s in admin.compute.services() if s.host == "nodeb-1") != "up":
        assert time.monotonic() < deadline, "nodeb-1 never came back"
        time.sleep(0.5)


def test_a_flavor_or_quota_change_holds_at_once_in_every_api_worker(
    admin: openstack.connection.Connection, image: Any
) -> None:
    """Boots read flavors and quota limits from each API worker's memory (`boot_cache`): a
    change made through one worker holds for the very next boot in every worker."""
    flavor = admin.compute.create_flavor(name="cached", ram=64, vcpus=1, disk=1)
    compute = admin.compute.get_endpoint().rstrip("/")
    quota = f"{compute}/os-quota-sets/{admin.current_project_id}"
    headers = {"X-Auth-Token": admin.auth_token, "OpenStack-API-Version": "compute 2.47"}
    made: list[str] = []

    def post(i: int) -> int:
        # A new connection each time, so the requests spread over both workers.
        server = {"name": f"cached-{i}", "imageRef": image.id, "flavorRef": flavor.id}
        response = httpx.post(
            compute + "/servers", json={"server": {**server, "networks": "none"}}, headers=headers
        )
        if response.status_code == 202:
            made.append(response.json()["server"]["id"])
        return response.status_code

    def set_instances(value: int) -> None:
        body = {"quota_set": {"instances": value, "force": True}}
        assert httpx.put(quota, json=body, headers=headers).status_code == 200

    try:
        set_instances(100)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            assert set(pool.map(post, range(8))) == {202}  # now cached in both workers
            set_instances(0)
            assert set(pool.map(post, range(8))) == {403}
            set_instances(100)
            admin.compute.delete_flavor(flavor)
            assert set(pool.map(post, range(8))) == {400}
    finally:
        httpx.delete(quota, headers=headers)
        for server_id in made:
            admin.compute.delete_server(server_id)
