"""The object store (Swift v1) mounted at /object-store; catalog type `object-store`, name
`swift`, URL `.../object-store/v1/AUTH_<project_id>`. `GET /object-store/info` is Swift's
`/info`.

On first start it makes the default ring of three directory devices in three zones; every
process opens the ring. The daemons (updater, replicator, auditor, expirer) are the "object"
role's unit (`units.ObjectUnit`), so they run once per node, not in every API worker.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from fastapi import FastAPI

from overcast.common import log
from overcast.common.config import Settings
from overcast.common.http import faults
from overcast.common.service import Runtime, Service, Unit, api_app
from overcast.object_store import api, layout
from overcast.object_store.containers import Containers
from overcast.object_store.drivers import http
from overcast.object_store.drivers.local import LocalServer
from overcast.object_store.proxy.objects import ObjectReplicas
from overcast.object_store.proxy.placement import Placement
from overcast.object_store.ring.ring import Ring
from overcast.object_store.s3 import api as s3api
from overcast.object_store.state import ObjectStoreState
from overcast.object_store.units import ObjectUnit
from overcast.object_store.updates import ListingWriter

LOG = log.get(__name__)
PREFIX = "/object-store"


def trans_id() -> str:
    """Swift's transaction id: `tx`, 21 random hex digits, `-`, the time in 10 hex digits.
    Unique, not secret: no system call for random bytes on every request."""
    return f"tx{random.getrandbits(84):021x}-{int(time.time()):010x}"


class ObjectStoreService(Service):
    name = "object_store"
    catalog_type = "object-store"
    catalog_name = "swift"
    prefix = PREFIX
    migrations = Path(__file__).parent / "migrations"

    def __init__(self) -> None:
        self.state: ObjectStoreState | None = None

    def endpoint_url(self, base_url: str) -> str:
        return f"{base_url}{PREFIX}/v1/AUTH_%(project_id)s"

    def identity_roles(self, settings: Settings) -> tuple[str, ...]:
        """The reseller admin role (`ResellerAdmin`), which reaches every account."""
        return (settings.object_store.reseller_admin_role,)

    def build(self, runtime: Runtime) -> FastAPI:
        settings = runtime.settings
        app = api_app(
            runtime,
            title="Overcast Object Storage (Swift v1)",
            render=faults.swift,
            # Swift authorises anonymous requests itself (ACLs, temp URLs): no path needs a token.
            public=lambda _m, _p: True,
            request_id_headers=("x-trans-id",),
            new_request_id=trans_id,
            # Object data streams to the devices whatever its content type.
            streams=lambda method, _p: method in ("PUT", "POST"),
        )
        where = layout.ensure(settings)
        salt = where.salt()
        ring = Ring(where.ring, b"", salt)
        cfg = settings.object_store
        key = http.node_key(salt)
        placement = Placement(
            ring,
            LocalServer(where.devices, files=cfg.file_processes),
            lambda url: http.HttpServer(
                url,
                key,
                cfg.conn_timeout,
                cfg.node_timeout,
                cfg.error_suppression_limit,
                cfg.error_suppression_interval,
            ),
            frozenset({"local", cfg.server_url} - {""}),
        )
        db = runtime.db.serialised()
        containers = Containers(db)
        self.state = ObjectStoreState(
            settings=settings.object_store,
            db=db,
            layout=where,
            placement=placement,
            replicas=ObjectReplicas(placement),
            containers=containers,
            listings=ListingWriter(db, placement, containers.adjust),
        )
        self.state.identity_url = runtime.endpoint("identity")
        self.state.s3_domain = settings.object_store.s3_domain
        app.state.object_store = self.state
        api.install(app)
        s3api.install(app)
        return app

    def units(self, runtime: Runtime) -> dict[str, Unit]:
        """The "object" role: this node's devices looked after (`units.ObjectUnit`)."""
        assert self.state is not None
        return {"object": ObjectUnit(self.state)}

    async def stop(self) -> None:
        if self.state is not None:
            await self.state.placement.close()
