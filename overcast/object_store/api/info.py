"""`GET /info` at the service root, as Swift's: the capabilities this store implements, with
their limits. Public, as in Swift. Kept in step with what the routes do."""

from __future__ import annotations

from typing import Any

from overcast.common.config import ObjectStoreSettings
from overcast.object_store import constraints, sync, tempurl
from overcast.object_store.api import bulk, large, objects


def capabilities(settings: ObjectStoreSettings) -> dict[str, Any]:
    return {
        "swift": {
            "version": "2.38.0",
            **constraints.LIMITS,
            "policies": [{"name": "Policy-0", "aliases": "Policy-0", "default": True}],
            "allow_account_management": False,
            "account_autocreate": True,
        },
        "keystoneauth": {},
        "account_quotas": {},
        "container_quotas": {},
        "dlo": {"max_get_time": 86400},
        "slo": {
            "max_manifest_segments": large.MAX_MANIFEST_SEGMENTS,
            "max_manifest_size": large.MAX_MANIFEST_SIZE,
            "min_segment_size": large.MIN_SEGMENT_SIZE,
        },
        "bulk_delete": {
            "max_deletes_per_request": bulk.MAX_DELETES,
            "max_failed_deletes": bulk.MAX_FAILED,
        },
        "bulk_upload": {
            "max_containers_per_extraction": bulk.MAX_CONTAINERS,
            "max_failed_extractions": bulk.MAX_FAILED,
        },
        "container_sync": {
            "realms": {
                name: {"clusters": {cluster.upper(): {} for cluster in realm.clusters}}
                for name, realm in sync.realms(settings).items()
            }
        },
        "crossdomain": {},
        "formpost": {},
        "staticweb": {},
        "tempurl": {
            "methods": list(tempurl.METHODS),
            "allowed_digests": sorted(tempurl.ALGORITHMS),
            "incoming_remove_headers": [],
            "outgoing_remove_headers": [],
        },
        "s3api": {
            "max_bucket_listing": 1000,
            "max_parts_listing": 1000,
            "max_upload_part_num": 10000,
            "max_multi_delete_objects": 1000,
            "min_segment_size": 5242880,
            "s3_acl": False,
            "versioning": False,
        },
        "symlink": {"symlink_loop_limit": objects.SYMLINK_LOOP_LIMIT, "static_links": False},
        "versioned_writes": {"allowed_flags": ["x-versions-location", "x-history-location"]},
    }
