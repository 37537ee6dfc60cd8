"""/v3/os-quota-sets/{project} (show with `?usage=true`, defaults, update, delete),
/v3/os-quota-class-sets/{class} and /v3/limits (absolute limits with their usage)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.common import errors
from overcast.common.http import bodies
from overcast.volume import quotas
from overcast.volume.api import schemas
from overcast.volume.api.deps import Req, req
from overcast.volume.models.quotas import Quota, QuotaClass

router = APIRouter(prefix="/v3")


def _values(data: dict[str, Any], known: set[str]) -> dict[str, int]:
    out = {}
    for key, value in data.items():
        if key in ("tenant_id", "id"):
            continue
        if key not in known:
            raise errors.BadRequest(f"Invalid input received: Bad key(s) in quota set: {key}")
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise errors.BadRequest(
                f"Invalid input received: Quota value for key '{key}' must be an integer."
            )
        try:
            number = int(value)
        except ValueError as exc:
            raise errors.BadRequest(
                f"Invalid input received: Quota value for key '{key}' must be an integer."
            ) from exc
        if number < -1:
            raise errors.BadRequest(
                f"Invalid input received: Quota limit {number} for {key} must be -1 or greater."
            )
        out[key] = number
    return out


@router.get("/os-quota-sets/{project_id}/defaults")
async def defaults(project_id: str, r: Req = Depends(req)) -> Any:
    r.enforce("volume_extension:quotas:show", r.target(project_id))
    async with r.state.db.reader() as session:
        values = await quotas.class_limits(session, r.state.settings.volume)
    return {"quota_set": {"id": project_id, **values}}


@router.get("/os-quota-sets/{project_id}")
async def show(project_id: str, request: Request, r: Req = Depends(req)) -> Any:
    r.enforce("volume_extension:quotas:show", r.target(project_id))
    usage = schemas.boolean(request.query_params.get("usage", "false"), "usage")
    async with r.state.db.reader() as session:
        hard = await quotas.limits(session, r.state.settings.volume, project_id)
        used = await quotas.usage(session, project_id) if usage else {}
    if not usage:
        return {"quota_set": {"id": project_id, **hard}}
    return {
        "quota_set": {
            "id": project_id,
            **{
                k: {"limit": v, "in_use": used.get(k, 0), "reserved": 0, "allocated": 0}
                for k, v in hard.items()
            },
        }
    }


@router.put("/os-quota-sets/{project_id}")
async def update(project_id: str, request: Request, r: Req = Depends(req)) -> Any:
    data = schemas.obj(await bodies.json_object(request), "quota_set")
    r.enforce("volume_extension:quotas:update", r.target(project_id))
    settings = r.state.settings.volume
    async with r.state.db.session() as session:
        values = _values(data, await quotas.resource_names(session))
        used = await quotas.usage(session, project_id)
        for key, limit in values.items():
            if limit != quotas.UNLIMITED and limit < used.get(key, 0):
                raise errors.BadRequest(
                    f"Invalid input received: Quota {key} limit must be equal or greater than"
                    f" existing resources. Current usage is {used[key]} and the requested limit"
                    f" is {limit}."
                )
        await quotas.set_limits(session, Quota, project_id, values)
        hard = await quotas.limits(session, settings, project_id)
    return {"quota_set": hard}


@router.delete("/os-quota-sets/{project_id}")
async def reset(project_id: str, r: Req = Depends(req)) -> Response:
    r.enforce("volume_extension:quotas:delete", r.target(project_id))
    async with r.state.db.session() as session:
        await quotas.reset_project(session, project_id)
    return Response(status_code=200)


@router.get("/os-quota-class-sets/{class_name}")
async def show_class(class_name: str, r: Req = Depends(req)) -> Any:
    r.enforce("volume_extension:quota_classes")
    async with r.state.db.reader() as session:
        values = await quotas.class_limits(session, r.state.settings.volume, class_name)
    return {"quota_class_set": {"id": class_name, **values}}


@router.put("/os-quota-class-sets/{class_name}")
async def update_class(class_name: str, request: Request, r: Req = Depends(req)) -> Any:
    data = schemas.obj(await bodies.json_object(request), "quota_class_set")
    r.enforce("volume_extension:quota_classes")
    async with r.state.db.session() as session:
        values = _values(data, await quotas.resource_names(session))
        await quotas.set_limits(session, QuotaClass, class_name, values)
        found = await quotas.class_limits(session, r.state.settings.volume, class_name)
    return {"quota_class_set": found}


@router.get("/limits")
async def limits(request: Request, r: Req = Depends(req)) -> Any:
    r.enforce("limits_extension:used_limits")
    project = r.project_id
    if r.at_least("3.39") and request.query_params.get("project_id") and r.ctx.is_admin:
        project = request.query_params["project_id"]
    async with r.state.db.reader() as session:
        hard = await quotas.limits(session, r.state.settings.volume, project)
        used = await quotas.usage(session, project)
    return {
        "limits": {
            "rate": [],
            "absolute": {
                "maxTotalVolumes": hard["volumes"],
                "maxTotalSnapshots": hard["snapshots"],
                "maxTotalVolumeGigabytes": hard["gigabytes"],
                "maxTotalBackups": hard["backups"],
                "maxTotalBackupGigabytes": hard["backup_gigabytes"],
                "totalVolumesUsed": used["volumes"],
                "totalSnapshotsUsed": used["snapshots"],
                "totalGigabytesUsed": used["gigabytes"],
                "totalBackupsUsed": used["backups"],
                "totalBackupGigabytesUsed": used["backup_gigabytes"],
            },
        }
    }
