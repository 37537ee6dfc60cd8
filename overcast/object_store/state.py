"""Everything the object store's routes and daemons share, built once by the service."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from overcast.common.config import ObjectStoreSettings
from overcast.common.db.session import Database
from overcast.object_store.containers import Containers
from overcast.object_store.layout import Layout
from overcast.object_store.proxy.objects import ObjectReplicas
from overcast.object_store.proxy.placement import Placement
from overcast.object_store.updates import ListingWriter


@dataclass
class ObjectStoreState:
    settings: ObjectStoreSettings
    db: Database
    layout: Layout
    placement: Placement
    replicas: ObjectReplicas
    containers: Containers
    listings: ListingWriter
    identity_url: str = ""  # Keystone's v3 endpoint, for the S3 API's signature checks
    s3_domain: str = ""  # virtual-hosted buckets are <bucket>.<s3_domain>


def get(request: Request) -> ObjectStoreState:
    found: ObjectStoreState = request.app.state.object_store
    return found
