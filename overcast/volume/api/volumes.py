"""/v3/volumes: create, list (and detail), summary, show, update and delete volumes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.http import bodies, pagination
from overcast.volume import listing, rpc, volumes
from overcast.volume.api import schemas, views
from overcast.volume.api.deps import Req, req
from overcast.volume.models.types import Encryption, VolumeType
from overcast.volume.models.volumes import Attachment, Volume

router = APIRouter(prefix="/v3")

FIELDS = {
    "name": "name",
    "display_name": "name",
    "status": "status",
    "availability_zone": "availability_zone",
    "bootable": "bootable",
    "migration_status": "migration_status",
    "size": "size",
    "volume_type_id": "volume_type_id",
    "project_id": "project_id",
    "user_id": "user_id",
    "description": "description",
    "group_id": "group_id",
}
SORT_KEYS = ("created_at", "updated_at", "id", "name", "size", "status", "availability_zone")


async def render(
    r: Req, session: AsyncSession, rows: Sequence[Volume], detail: bool = True, read: bool = True
) -> list[dict[str, Any]]:
    """The volumes as Cinder shows them, with their types and attachments (two queries; one
    when every volume is still being created, which has no attachment yet)."""
    if not detail:
        return [views.volume_summary(r, v) for v in rows]
    type_ids = {v.volume_type_id for v in rows}
    found_types = await session.execute(
        select(VolumeType, Encryption.volume_type_id)
        .outerjoin(Encryption, Encryption.volume_type_id == VolumeType.id)
        .where(VolumeType.id.in_(type_ids))
    )
    types: dict[str, VolumeType] = {}
    encrypted: set[str] = set()
    for vtype, enc in found_types.tuples():
        types[vtype.id] = vtype
        if enc is not None:
            encrypted.add(vtype.id)
    attachments: dict[str, list[Attachment]] = {}
    ids = [v.id for v in rows if v.status != "creating"]
    if ids:
        found = await session.execute(
            select(Attachment).where(Attachment.volume_id.in_(ids), Attachment.deleted.is_(False))
        )
        for a in found.scalars():
            attachments.setdefault(a.volume_id, []).append(a)
    return [
        views.volume(
            r,
            v,
            types.get(v.volume_type_id),
            attachments.get(v.id, []),
            v.volume_type_id in encrypted,
            read,
        )
        for v in rows
    ]


async def one(r: Req, session: AsyncSession, v: Volume, read: bool = True) -> dict[str, Any]:
    return (await render(r, session, [v], read=read))[0]


@router.post("/volumes", status_code=202)
async def create(request: Request, r: Req = Depends(req)) -> Any:
    body = await bodies.json_object(request)
    data = schemas.obj(body, "volume")
    r.enforce("volume:create")
    image = data.get("imageRef") or data.get("image_id")
    if image is not None:
        r.enforce("volume:create_from_image")
    sources = ("snapshot_id", "source_volid", "backup_id")
    spec = volumes.CreateSpec(
        size=schemas.size(
            data.get("size"),
            required=not any(data.get(k) for k in sources) and image is None,
        ),
        name=schemas.name(data.get("name", data.get("display_name"))),
        description=schemas.text(
            data.get("description", data.get("display_description")), "description"
        ),
        volume_type=schemas.text(data.get("volume_type"), "volume_type"),
        availability_zone=schemas.text(data.get("availability_zone"), "availability_zone"),
        snapshot_id=schemas.uuid_(data.get("snapshot_id"), "snapshot_id"),
        source_volid=schemas.uuid_(data.get("source_volid"), "source_volid"),
        image_id=schemas.text(image, "imageRef"),
        backup_id=(
            schemas.uuid_(data.get("backup_id"), "backup_id") if r.at_least("3.47") else None
        ),
        metadata=schemas.metadata(data.get("metadata")),
        multiattach=schemas.boolean(data.get("multiattach", False), "multiattach"),
        group_id=schemas.uuid_(data.get("group_id"), "group_id") if r.at_least("3.13") else None,
    )
    if (
        sum(1 for x in (spec.snapshot_id, spec.source_volid, spec.image_id, spec.backup_id) if x)
        > 1
    ):
        raise errors.BadRequest(
            "Invalid input received: Only one of snapshot_id, source_volid, imageRef or"
            " backup_id may be given."
        )
    if spec.multiattach:
        r.enforce("volume:multiattach")
    volume = await volumes.create(r.state, r.bus_ctx, spec, r.ctx.is_admin)
    async with r.state.db.reader() as session:
        return bodies.json_response({"volume": await one(r, session, volume, read=False)}, 202)


def _scope(r: Req, stmt: Any, params: dict[str, str]) -> Any:
    all_tenants = params.pop("all_tenants", None) or params.pop("all_projects", None)
    wanted_project = params.pop("project_id", None)
    if r.ctx.is_admin and (all_tenants or wanted_project):
        r.enforce("volume:get_all_tenants")
        if wanted_project:
            stmt = stmt.where(Volume.project_id == wanted_project)
        return stmt
    return stmt.where(Volume.project_id == r.project_id)


async def _list(r: Req, request: Request, detail: bool) -> Response:
    r.enforce("volume:get_all")
    params = dict(request.query_params)
    with_count = r.at_least("3.45") and schemas.boolean(
        params.pop("with_count", "false"), "with_count"
    )
    limit = schemas.limit(params.get("limit"), r.state.settings.volume.max_list_limit)
    sort = schemas.sort(params, SORT_KEYS)
    stmt = _scope(r, select(Volume).where(Volume.deleted.is_(False)), params)
    if "volume_type" in params:
        async with r.state.db.reader() as session:
            found = await session.scalar(
                select(VolumeType.id).where(
                    (VolumeType.id == params["volume_type"])
                    | (VolumeType.name == params["volume_type"])
                )
            )
        stmt = stmt.where(Volume.volume_type_id == (found or params["volume_type"]))
    filters = {
        k: v
        for k, v in params.items()
        if k not in ("limit", "marker", "sort", "sort_key", "sort_dir", "offset", "volume_type")
    }
    stmt, meta = listing.apply(
        stmt, Volume, filters, FIELDS, time_filters=r.at_least("3.60"), like=r.at_least("3.34")
    )
    if "glance_metadata" in params and r.at_least("3.4"):
        glance = listing.apply(
            select(Volume),
            Volume,
            {"metadata": params["glance_metadata"]},
            {},
            time_filters=False,
            like=False,
        )[1]
    else:
        glance = None
    async with r.state.db.reader() as session:
        rows = await listing.page(session, stmt, Volume, params, sort, limit, meta)
        if glance:
            rows = [v for v in rows if listing.metadata_matches(v.image_metadata, glance)]
        body: dict[str, Any] = {"volumes": await render(r, session, rows, detail)}
        if with_count:
            body["count"] = await listing.count(session, stmt)
    link = pagination.next_link(
        r.url("/volumes/detail" if detail else "/volumes"), params, rows, limit
    )
    if link:
        body["volumes_links"] = [{"href": link, "rel": "next"}]
    return bodies.json_response(body)


@router.get("/volumes")
async def index(request: Request, r: Req = Depends(req)) -> Response:
    return await _list(r, request, detail=False)


@router.get("/volumes/detail")
async def detail(request: Request, r: Req = Depends(req)) -> Response:
    return await _list(r, request, detail=True)


@router.get("/volumes/summary")
async def summary(request: Request, r: Req = Depends(req)) -> Any:
    if not r.at_least("3.12"):
        raise errors.NotFound("The resource could not be found.")
    r.enforce("volume:get_all")
    params = dict(request.query_params)
    stmt = _scope(r, select(Volume).where(Volume.deleted.is_(False)), params)
    async with r.state.db.reader() as session:
        rows = list((await session.execute(stmt)).scalars())
    out: dict[str, Any] = {"total_size": sum(v.size for v in rows), "total_count": len(rows)}
    if r.at_least("3.36"):
        meta: dict[str, list[str]] = {}
        for v in rows:
            for key, value in (v.metadata_ or {}).items():
                if value not in meta.setdefault(key, []):
                    meta[key].append(value)
        out["metadata"] = meta
    return {"volume-summary": out}


@router.get("/volumes/{volume_id}")
async def show(volume_id: str, r: Req = Depends(req)) -> Any:
    async with r.state.db.reader() as session:
        volume = await volumes.get(session, volume_id, r.project_id, r.ctx.is_admin)
        r.enforce("volume:get", r.target(volume.project_id))
        return bodies.json_response({"volume": await one(r, session, volume)})


@router.put("/volumes/{volume_id}")
async def update(volume_id: str, request: Request, r: Req = Depends(req)) -> Any:
    data = schemas.obj(await bodies.json_object(request), "volume")
    allowed = {"name", "description", "display_name", "display_description", "metadata"}
    unknown = set(data) - allowed
    if unknown or not data:
        raise errors.BadRequest(
            f"Invalid input for field/attribute volume. Additional properties are not allowed"
            f" ({', '.join(sorted(unknown)) or 'empty'})."
        )
    changes: dict[str, Any] = {}
    if "name" in data or "display_name" in data:
        changes["name"] = schemas.name(data.get("name", data.get("display_name")))
    if "description" in data or "display_description" in data:
        changes["description"] = schemas.text(
            data.get("description", data.get("display_description")), "description"
        )
    if "metadata" in data:
        changes["metadata_"] = schemas.metadata(data["metadata"])
    async with r.state.db.session() as session:
        volume = await volumes.get(session, volume_id, r.project_id, r.ctx.is_admin)
        r.enforce("volume:update", r.target(volume.project_id))
        for key, value in changes.items():
            setattr(volume, key, value)
        from overcast.common.db.base import utcnow

        volume.updated_at = utcnow()
        return bodies.json_response({"volume": await one(r, session, volume, read=False)})


@router.delete("/volumes/{volume_id}", status_code=202)
async def delete(volume_id: str, request: Request, r: Req = Depends(req)) -> Response:
    params = request.query_params
    cascade = schemas.boolean(params.get("cascade", "false"), "cascade")
    force = r.at_least("3.23") and schemas.boolean(params.get("force", "false"), "force")
    async with r.state.db.session() as session:
        volume = await volumes.get(session, volume_id, r.project_id, r.ctx.is_admin)
        r.enforce("volume:delete", r.target(volume.project_id))
        if force:
            r.enforce("volume:force_delete", r.target(volume.project_id))
        needs_agent = await volumes.start_delete(session, volume, force=force, cascade=cascade)
        backend = volume.backend
    if needs_agent and backend:
        await rpc.cast_agent(r.state.bus, backend, "delete_volume", r.bus_ctx, volume_id=volume_id)
    return Response(status_code=202)
