"""Version discovery: `/` and `/v3` describe the v3 API and its microversion range (3.0 to
`MAX`); both answer without a token. `/v3/extensions` lists the extensions Cinder names."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from overcast.common.http import bodies
from overcast.common.http.microversions import APIVersion, VersionRange
from overcast.volume.api.deps import BASE, Req, base_url, req

MAX = APIVersion(3, 71)
RANGE = VersionRange("volume", BASE, MAX)
PREFIX = "/volume"

router = APIRouter()


def public(method: str, path: str) -> bool:
    """Version discovery needs no token (`path` is the full path, mount point included)."""
    if path.startswith(PREFIX):
        path = path[len(PREFIX) :]
    return method == "GET" and path.rstrip("/") in ("", "/v3")


def _v3(base: str) -> dict[str, Any]:
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": str(MAX),
        "min_version": str(BASE),
        "updated": "2023-08-31T00:00:00Z",
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": f"{base}/v3/"},
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    }


@router.get("/")
async def root(request: Request) -> Any:
    """Cinder answers its root with 300 Multiple Choices."""
    return bodies.json_response({"versions": [_v3(base_url(request))]}, 300)


@router.get("/v3")
@router.get("/v3/")
async def current(request: Request) -> Any:
    return {"versions": [_v3(base_url(request))]}


_EXTENSIONS = (
    ("AvailabilityZones", "os-availability-zone", "Describe availability zones."),
    ("Backups", "backups", "Backups support."),
    ("Capabilities", "capabilities", "Capabilities reporting of back ends."),
    ("Hosts", "os-hosts", "Admin-only host administration."),
    ("QuotaClasses", "os-quota-class-sets", "Quota classes management."),
    ("Quotas", "os-quota-sets", "Quota management support."),
    ("QoSSpecs", "qos-specs", "QoS specs support."),
    ("SchedulerStats", "scheduler-stats", "Scheduler stats support."),
    ("Services", "os-services", "Services support."),
    ("TypesManage", "os-types-manage", "Types manage support."),
    ("TypesExtraSpecs", "os-types-extra-specs", "Type extra specs support."),
    ("VolumeActions", "os-volume-actions", "Enable volume actions."),
    ("VolumeHostAttribute", "os-vol-host-attr", "Expose host as an attribute of a volume."),
    ("VolumeImageMetadata", "os-vol-image-meta", "Show image metadata of volumes."),
    ("VolumeMigStatusAttribute", "os-vol-mig-status-attr", "Expose a volume's migration state."),
    ("VolumeManage", "os-volume-manage", "Manage existing back-end storage by Cinder."),
    ("VolumeUnmanage", "os-volume-unmanage", "Stop managing a volume."),
    ("VolumeTenantAttribute", "os-vol-tenant-attr", "Expose the owner of volumes."),
    ("VolumeTransfer", "os-volume-transfer", "Volume transfer management support."),
    ("VolumeTypeAccess", "os-volume-type-access", "Volume type access support."),
    ("VolumeTypeEncryption", "encryption", "Encryption support for volume types."),
    ("AdminActions", "os-admin-actions", "Enable admin actions."),
    ("ExtendedSnapshotAttributes", "os-extended-snapshot-attributes", "Snapshot attributes."),
    ("UsedLimits", "os-used-limits", "Provide data on limited resources that are being used."),
)


@router.get("/v3/extensions")
async def extensions(r: Req = Depends(req)) -> Any:
    r.enforce("volume_extension:extensions")
    return {
        "extensions": [
            {
                "alias": alias,
                "name": name,
                "description": text,
                "links": [],
                "updated": "2023-01-01T00:00:00+00:00",
            }
            for name, alias, text in _EXTENSIONS
        ]
    }


# The filters each list takes (3.33), as the list routes apply them.
_FILTERS = {
    "volume": [
        "name",
        "status",
        "metadata",
        "bootable",
        "migration_status",
        "availability_zone",
        "size",
        "volume_type",
        "created_at",
        "updated_at",
    ],
    "snapshot": ["name", "status", "volume_id", "metadata", "created_at", "updated_at"],
    "backup": ["name", "status", "volume_id", "created_at", "updated_at"],
    "attachment": ["volume_id", "status", "instance_id", "attach_status"],
    "message": ["resource_uuid", "resource_type", "event_id", "request_id", "message_level"],
    "volume_type": ["is_public", "extra_specs"],
    "transfer": [],
}


@router.get("/v3/resource_filters")
async def resource_filters(request: Request, r: Req = Depends(req)) -> Any:
    if not r.at_least("3.33"):
        from overcast.common import errors

        raise errors.NotFound("The resource could not be found.")
    wanted = request.query_params.get("resource")
    return {
        "resource_filters": [
            {"resource": name, "filters": filters}
            for name, filters in _FILTERS.items()
            if wanted in (None, name)
        ]
    }
