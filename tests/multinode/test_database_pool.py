"""The database's connections as a shared resource: each process keeps at most
`database.pool_size + database.max_overflow` of them however many requests it serves, and a
PostgreSQL or MariaDB server with no connection left for us ("too many connections") makes
the APIs answer 503 in each service's own error body, changing nothing, until it has room."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import openstack.exceptions
import pymysql
import pytest

from tests.helpers import databases, nodes
from tests.helpers.server import Server
from tests.multinode.conftest import boot, tiny_image

pytestmark = [
    pytest.mark.xdist_group("multinode-database-pool"),
    pytest.mark.skipif(not databases.reachable("postgresql"), reason="PostgreSQL is not running"),
]


async def _admin(sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres")
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


def admin(sql: str) -> list[asyncpg.Record]:
    return asyncio.run(_admin(sql))


@contextmanager
def owned_database() -> Iterator[tuple[str, str, str]]:
    """A fresh database owned by a role of its own (not a superuser, so that connection limits
    apply to it); yields (url, database, role)."""
    role = f"ovt_{databases.RUN}_{uuid.uuid4().hex[:8]}"
    admin(f'CREATE ROLE "{role}" LOGIN')
    try:
        with databases.fresh("postgresql") as url:
            name = url.rsplit("/", 1)[1]
            admin(f'ALTER DATABASE "{name}" OWNER TO "{role}"')
            yield url.replace("//postgres@", f"//{role}@"), name, role
    finally:
        admin(f'DROP ROLE IF EXISTS "{role}"')


def connections(role: str) -> int:
    rows = admin(f"SELECT count(*) AS n FROM pg_stat_activity WHERE usename = '{role}'")
    return int(rows[0]["n"])


def test_a_process_keeps_to_its_pool_under_a_burst(tmp_path: Path) -> None:
    with owned_database() as (url, _name, role):
        env = {
            "OVERCAST_DATABASE_URL": url,
            "OVERCAST_DATABASE__POOL_SIZE": "2",
            "OVERCAST_DATABASE__MAX_OVERFLOW": "0",
        }
        server = Server(tmp_path / "cloud", env=env).start(timeout=240)
        try:
            conn = server.connect()
            conn.identity.get_token()

            def work(i: int) -> int:
                mine = server.connect()
                flavors = list(mine.compute.flavors())
                mine.compute.create_keypair(name=f"k{i}")
                return len(flavors)

            with concurrent.futures.ThreadPoolExecutor(12) as pool:
                counts = list(pool.map(work, range(24)))
            assert all(count > 0 for count in counts)
            assert len(list(conn.compute.keypairs())) == 24
            assert connections(role) <= 2
        finally:
            server.stop()


class Limited:
    """A database owned by a user of its own, whose connections can be refused."""

    def __init__(self, kind: str, url: str, name: str, user: str) -> None:
        self.kind, self.url, self.name, self.user = kind, url, name, user
        self._held: pymysql.connections.Connection | None = None

    def refuse(self) -> None:
        """No new connection for the user; the server's open ones are closed under it."""
        if self.kind == "postgresql":
            admin(f'ALTER ROLE "{self.user}" CONNECTION LIMIT 0')
            admin(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.name}'"
            )
            return
        # MariaDB reads 0 as "no limit": allow one, and hold it here.
        _mysql(f"ALTER USER '{self.user}'@'%' WITH MAX_USER_CONNECTIONS 1")
        for (pid,) in _mysql(
            f"SELECT id FROM information_schema.processlist WHERE user = '{self.user}'"
        ):
            _mysql(f"KILL {pid}")
        self._held = pymysql.connect(host="127.0.0.1", port=3306, user=self.user)

    def allow(self) -> None:
        if self.kind == "postgresql":
            admin(f'ALTER ROLE "{self.user}" CONNECTION LIMIT -1')
            return
        _mysql(f"ALTER USER '{self.user}'@'%' WITH MAX_USER_CONNECTIONS 0")
        if self._held is not None:
            self._held.close()


def _mysql(sql: str) -> tuple[tuple[object, ...], ...]:
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root")
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return tuple(cur.fetchall())
    finally:
        conn.close()


@contextmanager
def limited(kind: str) -> Iterator[Limited]:
    if kind == "postgresql":
        with owned_database() as (url, name, role):
            yield Limited(kind, url, name, role)
        return
    user = f"ovt_{databases.RUN}_{uuid.uuid4().hex[:8]}"
    _mysql(f"CREATE USER '{user}'@'%'")
    try:
        with databases.fresh("mariadb") as url:
            name = url.rsplit("/", 1)[1]
            _mysql(f"GRANT ALL ON `{name}`.* TO '{user}'@'%'")
            yield Limited(kind, url.replace("//root@", f"//{user}@"), name, user)
    finally:
        _mysql(f"DROP USER IF EXISTS '{user}'@'%'")


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_too_many_connections_answers_503_and_changes_nothing(kind: str, tmp_path: Path) -> None:
    if not databases.reachable(kind):
        pytest.skip(f"{kind} is not running")
    with limited(kind) as database:
        env = {"OVERCAST_DATABASE_URL": database.url, "OVERCAST_DATABASE__POOL_TIMEOUT": "3"}
        server = Server(tmp_path / "cloud", env=env).start(timeout=240)
        try:
            conn = server.connect()
            conn.identity.get_token()
            database.refuse()

            with pytest.raises(openstack.exceptions.HttpException) as caught:
                conn.compute.create_keypair(name="during")
            assert caught.value.status_code == 503
            body = caught.value.response.json()
            assert body["serviceUnavailable"]["code"] == 503
            assert "database" in body["serviceUnavailable"]["message"]

            with pytest.raises(openstack.exceptions.HttpException) as caught:
                conn.identity.create_project(name="during")
            assert caught.value.status_code == 503
            assert caught.value.response.json()["error"]["code"] == 503

            with pytest.raises(openstack.exceptions.HttpException) as caught:
                list(conn.network.networks())
            assert caught.value.status_code == 503
            neutron = caught.value.response.json()["NeutronError"]
            assert neutron["type"] == "HTTPServiceUnavailable"

            cli = server.cli("volume", "list", check=False)
            assert cli.returncode != 0
            assert "HTTP 503" in cli.stderr

            database.allow()
            assert conn.compute.find_keypair("during") is None
            assert conn.identity.find_project("during") is None
            conn.compute.create_keypair(name="after")
            assert [k.name for k in conn.compute.keypairs()] == ["after"]
            # No request failed unexpectedly (periodic tasks may log their failed passes).
            log = server.log.read_text()
            assert "Exception in ASGI application" not in log
            assert "unexpected error" not in log
        finally:
            server.stop()


def test_a_burst_of_builds_waits_for_the_conductors_connections(tmp_path: Path) -> None:
    """Forty builds at once against a conductor with two connections: its bus handlers queue
    for it (`worker_pool_timeout`) where an API request would give up (`pool_timeout`), so
    none is lost in BUILD. A controller and a compute node on loopback."""
    reason = nodes.unavailable()
    if reason:
        pytest.skip(reason)
    with nodes.cloud(
        tmp_path,
        OVERCAST_DATABASE__POOL_SIZE="2",
        OVERCAST_DATABASE__MAX_OVERFLOW="0",
        OVERCAST_DATABASE__POOL_TIMEOUT="0.2",
    ) as made:
        # The conductor in a process of its own: one that also serves the API takes the API's
        # pool timeout (a process has one pool), and its handlers would give up as requests do.
        made.node("api", "api").start()
        made.node("control", "scheduler,conductor").start()
        made.node("nodea", "compute").start()
        admin = made.nodes[0].connect()
        admin.set_compute_quotas(admin.current_project_id, instances=-1, cores=-1, ram=-1)
        boot(admin, tiny_image(admin), "burst", min_count=40, max_count=40)
        deadline = time.monotonic() + 120
        states: list[str] = []
        while time.monotonic() < deadline:
            states = [s.status for s in admin.compute.servers(name="^burst")]
            if len(states) == 40 and all(s in ("ACTIVE", "ERROR") for s in states):
                break
            time.sleep(0.5)
        assert sorted(states) == ["ACTIVE"] * 40
