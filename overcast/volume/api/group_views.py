"""How group types, groups and group snapshots look in responses, by microversion, as
Cinder's views show them. Called by `api.group_types`, `api.groups`, `api.group_snapshots`."""

from __future__ import annotations

from typing import Any

from overcast.volume.api.deps import Req
from overcast.volume.api.views import ts
from overcast.volume.models.groups import Group, GroupSnapshot, GroupType


def group_type(r: Req, t: GroupType) -> dict[str, Any]:
    specs = dict(t.group_specs or {}) if r.allowed("group:access_group_types_specs") else {}
    return {
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "is_public": t.is_public,
        "group_specs": specs,
    }


def group(
    r: Req, g: Group, *, detail: bool = True, volume_ids: list[str] | None = None
) -> dict[str, Any]:
    if not detail:
        return {"id": g.id, "name": g.name}
    out: dict[str, Any] = {
        "id": g.id,
        "status": g.status,
        "availability_zone": g.availability_zone,
        "created_at": ts(g.created_at),
        "name": g.name,
        "description": g.description,
        "group_type": g.group_type_id,
        "volume_types": list(g.volume_type_ids or []),
    }
    if r.at_least("3.14"):
        out["group_snapshot_id"] = g.group_snapshot_id
        out["source_group_id"] = g.source_group_id
    if volume_ids is not None and r.at_least("3.25"):
        out["volumes"] = volume_ids
    if r.at_least("3.38"):
        out["replication_status"] = "disabled"
    if r.at_least("3.58"):
        out["project_id"] = g.project_id
    return out


def group_snapshot(r: Req, s: GroupSnapshot, *, detail: bool = True) -> dict[str, Any]:
    if not detail:
        return {"id": s.id, "name": s.name, "group_type_id": s.group_type_id}
    out: dict[str, Any] = {
        "id": s.id,
        "group_id": s.group_id,
        "group_type_id": s.group_type_id,
        "status": s.status,
        "created_at": ts(s.created_at),
        "name": s.name,
        "description": s.description,
    }
    if r.at_least("3.58"):
        out["project_id"] = s.project_id
    return out
