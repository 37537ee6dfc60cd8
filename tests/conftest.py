"""Fixtures shared by every test: one real server per test worker, its clients and tenants."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import openstack
import pytest

from tests.helpers import databases, rabbit
from tests.helpers.isolation import Tenant, make_tenant
from tests.helpers.server import Server, free_port, reap

# Tests run on the fake compute driver unless a test asks for real guests.
os.environ.setdefault("OVERCAST_COMPUTE__DRIVER", "fake")
# Tests reach only their own clouds: a shell's OS_CLOUD, OS_CLIENT_CONFIG_FILE, OS_AUTH_URL...
# would point the clients they start (openstacksdk, the CLI) at another one.
for _name in [n for n in os.environ if n.startswith("OS_")]:
    del os.environ[_name]

SYNC_REALM_KEY = "test-realm-key"

# The fixtures that boot real QEMU guests: their tests carry the `guests` mark.
REAL_GUESTS = {"dataplane_cloud", "qemu_cloud"}


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """Sample disk images as parameters get a short id (their size and a digest): as bytes they
    made ids of megabytes, which PYTEST_CURRENT_TEST then hands to every program a test runs
    (past the kernel's limit for one variable)."""
    if isinstance(val, bytes) and len(val) > 32:
        return f"{len(val)}b-{hashlib.sha256(val).hexdigest()[:8]}"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if REAL_GUESTS & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.guests)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The shared cloud. Tests must not change what other tests rely on (bootstrap data)."""
    with databases.selected() as db_env, rabbit.selected() as bus_env:
        port = free_port()
        local = f"http://127.0.0.1:{port}"
        env = {
            "OVERCAST_COMPUTE__FAKE_HOSTS": "3",
            "OVERCAST_OBJECT_STORE__S3_DOMAIN": "s3.test",
            # A container sync realm whose one cluster is this cloud (object_store/test_sync.py).
            "OVERCAST_OBJECT_STORE__SYNC_REALMS": json.dumps(
                {"test": {"key": SYNC_REALM_KEY, "clusters": {"here": f"{local}/object-store/v1/"}}}
            ),
            "OVERCAST_OBJECT_STORE__SYNC_INTERVAL": "0.5",
            **db_env,
            **bus_env,
        }
        srv = Server(tmp_path_factory.mktemp("cloud"), env=env, port=port)
        srv.start()
        yield srv
        srv.stop()
        reap(srv.data_dir)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start a private server (own data dir, own settings) for tests that restart or break it."""
    started: list[Server] = []
    with contextlib.ExitStack() as stack:

        def start(env: dict[str, str] | None = None, data_dir: Path | None = None) -> Server:
            # A restart on the same data dir keeps the database it had.
            reuse = next((s for s in started if s.data_dir == data_dir), None)
            db_env = (
                reuse.db_env
                if reuse
                else {
                    **stack.enter_context(databases.selected()),
                    **stack.enter_context(rabbit.selected()),
                }
            )
            srv = Server(
                data_dir or tmp_path / f"cloud{len(started)}", env={**db_env, **(env or {})}
            )
            srv.db_env = db_env
            started.append(srv)
            return srv.start()

        yield start
        for srv in started:
            srv.stop()
            reap(srv.data_dir)
        reap(tmp_path)  # what the test put beside them (e.g. volume back ends' exports)


@pytest.fixture(scope="session")
def admin(server: Server) -> openstack.connection.Connection:
    return server.connect("overcast")


@pytest.fixture(scope="session")
def demo(server: Server) -> openstack.connection.Connection:
    return server.connect("overcast-demo")


@pytest.fixture
def tenant_factory(server: Server, admin: openstack.connection.Connection) -> Callable[..., Tenant]:
    return lambda role="member": make_tenant(server, admin, role)
