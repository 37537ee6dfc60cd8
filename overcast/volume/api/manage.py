"""POST /v3/os-volume-manage (and /v3/manageable_volumes, 3.8+): adopt an object that already exists on a back end as a volume
(the agent asks its driver, which renames the file into place and measures it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.common.http import bodies
from overcast.volume import quotas, rpc
from overcast.volume import types as vtypes
from overcast.volume.api import schemas, views
from overcast.volume.api.deps import Req, req
from overcast.volume.models.volumes import Volume
from overcast.volume.scheduler import pools

router = APIRouter(prefix="/v3")


@router.post("/os-volume-manage", status_code=202)
@router.post("/manageable_volumes", status_code=202)
async def manage(request: Request, r: Req = Depends(req)) -> Any:
    """`/manageable_volumes` is the same call from 3.8 on."""
    if request.url.path.endswith("/manageable_volumes") and not r.at_least("3.8"):
        raise errors.NotFound("The resource could not be found.")
    data = schemas.obj(await bodies.json_object(request), "volume")
    r.enforce("volume_extension:volume_manage")
    host = schemas.text(data.get("host"), "host", nullable=False)
    ref = data.get("ref")
    if not isinstance(ref, dict) or not ref:
        raise schemas.invalid("ref", ref, "ref must be a non-empty object")
    settings = r.state.settings.volume
    async with r.state.db.reader() as session:
        live = await pools.live(session, settings.service_down_time)
        pool = next((p for p in live if host in (p.host, p.backend)), None)
        if pool is None:
            raise errors.BadRequest(f"Invalid input received: Service {host} not found or down.")
        if data.get("volume_type"):
            vtype = await vtypes.get(session, str(data["volume_type"]), r.project_id, True)
        else:
            vtype = await vtypes.default(session, r.project_id, settings.default_volume_type)
    volume = Volume(
        project_id=r.project_id,
        user_id=r.ctx.user_id or "",
        name=schemas.name(data.get("name")),
        description=schemas.text(data.get("description"), "description"),
        size=0,
        status="creating",
        availability_zone=pool.availability_zone,
        volume_type_id=vtype.id,
        host=pool.host,
        bootable=schemas.boolean(data.get("bootable", False), "bootable"),
        metadata_=schemas.metadata(data.get("metadata")),
        attempted=[],
        task={},
        created_at=utcnow(),
    )
    async with r.state.db.session() as session:
        await quotas.reserve(
            session, settings, r.project_id, {"volumes": 1}, {vtype.id: {"volumes": 1}}
        )
        session.add(volume)
    await rpc.cast_agent(
        r.state.bus, pool.backend, "manage_existing", r.bus_ctx, volume_id=volume.id, reference=ref
    )
    return bodies.json_response({"volume": views.volume(r, volume, vtype, [], read=False)}, 202)


@router.get("/manageable_volumes")
@router.get("/manageable_volumes/detail")
async def manageable(request: Request, r: Req = Depends(req)) -> Any:
    """3.8: what a back end holds that no volume owns (`?host=node@backend[#pool]`)."""
    if not r.at_least("3.8"):
        raise errors.NotFound("The resource could not be found.")
    r.enforce("volume_extension:volume_manage")
    host = request.query_params.get("host")
    if not host:
        raise errors.BadRequest("Invalid input received: host must be given.")
    async with r.state.db.reader() as session:
        live = await pools.live(session, r.state.settings.volume.service_down_time)
    pool = next((p for p in live if host in (p.host, p.backend)), None)
    if pool is None:
        raise errors.BadRequest(f"Invalid input received: Service {host} not found or down.")
    found = await rpc.call_agent(r.state.bus, pool.backend, "list_manageable", r.bus_ctx)
    detail = request.url.path.endswith("/detail")
    out = []
    for item in found:
        entry: dict[str, Any] = {
            "reference": {"source-name": item["name"]},
            "size": item["size"],
            "safe_to_manage": True,
        }
        if detail:
            entry.update(reason_not_safe=None, cinder_id=None, extra_info=None)
        out.append(entry)
    return {"manageable-volumes": out}
