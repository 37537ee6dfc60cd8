"""How block storage resources look in responses, by microversion, as Cinder shows them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from overcast.volume.api.deps import Req
from overcast.volume.models.backups import Backup
from overcast.volume.models.types import VolumeType
from overcast.volume.models.volumes import Attachment, Snapshot, Volume

# The extra specs every user may see (Cinder hides the rest from non-admins).
USER_VISIBLE_SPECS = ("multiattach", "RESKEY:availability_zones", "replication_enabled")


def ts(value: dt.datetime | None) -> str | None:
    """Cinder's timestamps: ISO 8601 with microseconds, no zone."""
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") if value else None


def _visible_admin(v: Volume) -> dict[str, str]:
    """The admin metadata Cinder shows among a volume's metadata (`readonly`, `attached_mode`)."""
    return {
        k: str(x) for k, x in (v.admin_metadata or {}).items() if k in ("readonly", "attached_mode")
    }


def volume_summary(r: Req, v: Volume) -> dict[str, Any]:
    return {"id": v.id, "name": v.name, "links": r.links("volumes", v.id)}


def volume_attachment(a: Attachment) -> dict[str, Any]:
    return {
        "id": a.volume_id,
        "attachment_id": a.id,
        "volume_id": a.volume_id,
        "server_id": a.instance_uuid,
        "host_name": a.attached_host,
        "device": a.mountpoint,
        "attached_at": ts(a.attach_time),
    }


def volume(
    r: Req,
    v: Volume,
    vtype: VolumeType | None,
    attachments: list[Attachment],
    encrypted: bool = False,
    read: bool = True,
) -> dict[str, Any]:
    """With `read` (show and list), the attributes Cinder's extensions add to what a GET
    answers (host, tenant, migration, image metadata); creates and updates answer without."""
    out: dict[str, Any] = {
        "id": v.id,
        "name": v.name,
        "description": v.description,
        "status": v.status,
        "size": v.size,
        "availability_zone": v.availability_zone,
        "created_at": ts(v.created_at),
        "updated_at": ts(v.updated_at),
        "attachments": [volume_attachment(a) for a in attachments if a.attach_status == "attached"],
        "bootable": "true" if v.bootable else "false",
        "encrypted": encrypted,
        "links": r.links("volumes", v.id),
        "metadata": {**(v.metadata_ or {}), **_visible_admin(v)},
        "multiattach": v.multiattach,
        "replication_status": None,
        "snapshot_id": v.snapshot_id,
        "source_volid": v.source_volid,
        "user_id": v.user_id,
        "volume_type": vtype.name if vtype else None,
        "consistencygroup_id": None,
        "migration_status": v.migration_status,
    }
    admin = r.ctx.is_admin
    if read:
        if v.image_metadata:
            out["volume_image_metadata"] = dict(v.image_metadata)
        if r.allowed("volume_extension:volume_host_attribute"):
            out["os-vol-host-attr:host"] = v.host
        if r.allowed("volume_extension:volume_tenant_attribute"):
            out["os-vol-tenant-attr:tenant_id"] = v.project_id
        if admin:
            out["os-vol-mig-status-attr:migstat"] = v.migration_status
            out["os-vol-mig-status-attr:name_id"] = v.name_id
    if r.at_least("3.13"):
        out["group_id"] = v.group_id
    if r.at_least("3.21") and admin:
        out["provider_id"] = v.provider_id
    if r.at_least("3.48"):
        out["service_uuid"] = v.service_uuid
        out["shared_targets"] = False
    if r.at_least("3.61") and admin:
        out["cluster_name"] = None
    if r.at_least("3.63"):
        out["volume_type_id"] = v.volume_type_id
    if r.at_least("3.64"):
        out["encryption_key_id"] = v.encryption_key_id
    if r.at_least("3.65"):
        out["consumes_quota"] = v.consumes_quota
    if r.at_least("3.69"):
        out["shared_targets"] = None
    return out


def snapshot(r: Req, s: Snapshot, read: bool = True) -> dict[str, Any]:
    """With `read` (show and list), the extended attributes a GET answers."""
    out: dict[str, Any] = {
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "status": s.status,
        "size": s.volume_size,
        "volume_id": s.volume_id,
        "metadata": dict(s.metadata_ or {}),
        "created_at": ts(s.created_at),
        "updated_at": ts(s.updated_at),
    }
    if read:
        out["os-extended-snapshot-attributes:progress"] = s.progress
        out["os-extended-snapshot-attributes:project_id"] = s.project_id
    if r.at_least("3.14"):
        out["group_snapshot_id"] = s.group_snapshot_id
    if r.at_least("3.41"):
        out["user_id"] = s.user_id
    if r.at_least("3.65"):
        out["consumes_quota"] = s.consumes_quota
    return out


def backup(r: Req, b: Backup, has_dependents: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": b.id,
        "name": b.name,
        "description": b.description,
        "status": b.status,
        "size": b.size,
        "volume_id": b.volume_id,
        "snapshot_id": b.snapshot_id,
        "availability_zone": b.availability_zone,
        "container": b.container,
        "created_at": ts(b.created_at),
        "updated_at": ts(b.updated_at),
        "data_timestamp": ts(b.data_timestamp),
        "fail_reason": b.fail_reason,
        "object_count": b.object_count,
        "is_incremental": b.is_incremental,
        "has_dependent_backups": has_dependents,
        "links": r.links("backups", b.id),
    }
    if r.at_least("3.18") and r.ctx.is_admin:
        out["os-backup-project-attr:project_id"] = b.project_id
    if r.at_least("3.43"):
        out["metadata"] = dict(b.metadata_ or {})
    if r.at_least("3.56"):
        out["user_id"] = b.user_id
    if r.at_least("3.64"):
        out["encryption_key_id"] = None
    return out


def volume_type(r: Req, t: VolumeType, answer: str = "show") -> dict[str, Any]:
    """A type as a GET shows it; a create's answer has no QoS id, an update's neither that
    nor the access extension's flag (as Cinder answers them)."""
    out: dict[str, Any] = {
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "is_public": t.is_public,
    }
    if answer != "update":
        out["os-volume-type-access:is_public"] = t.is_public
    if answer == "show" and r.allowed("volume_extension:access_types_qos_specs_id"):
        out["qos_specs_id"] = t.qos_specs_id
    specs = dict(t.extra_specs or {})
    if not r.allowed("volume_extension:access_types_extra_specs"):
        specs = {k: v for k, v in specs.items() if k in USER_VISIBLE_SPECS}
    out["extra_specs"] = specs
    return out


def attachment(a: Attachment, *, detail: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": a.id,
        "status": a.attach_status,
        "instance": a.instance_uuid,
        "volume_id": a.volume_id,
    }
    if detail:
        out.update(
            {
                "attached_at": ts(a.attach_time),
                "detached_at": ts(a.detach_time),
                "attach_mode": a.attach_mode,
                "connection_info": a.connection_info or {},
            }
        )
    return out
