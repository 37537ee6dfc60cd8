"""/servers/{id}/tags (microversion 2.26): the server's tags, as a set or one by one."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from overcast.common import errors
from overcast.common.http import headers
from overcast.compute import servers
from overcast.compute.api import schemas
from overcast.compute.api.deps import Req, json_body, req
from overcast.compute.api.servers import _json
from overcast.compute.models.instances import Instance, InstanceTag

router = APIRouter(prefix="/v2.1")
MAX_TAGS = 50


def _check_version(r: Req) -> None:
    if not r.at_least("2.26"):
        raise errors.NotFound("The resource could not be found.")


async def _load(r: Req, session: object, uuid: str, rule: str) -> Instance:
    inst = await servers.get(session, r.ctx, uuid)  # type: ignore[arg-type]
    r.enforce(f"os_compute_api:os-server-tags:{rule}", {"project_id": inst.project_id})
    return inst


@router.get("/servers/{server_id}/tags")
async def index(server_id: str, r: Req = Depends(req)) -> Response:
    _check_version(r)
    async with r.state.db.reader() as session:
        inst = await _load(r, session, server_id, "index")
    return _json({"tags": inst.tag_list})


@router.put("/servers/{server_id}/tags")
async def update_all(server_id: str, request: Request, r: Req = Depends(req)) -> Response:
    _check_version(r)
    tags = schemas.tags((await json_body(request)).get("tags"))
    async with r.state.db.session() as session:
        inst = await _load(r, session, server_id, "update_all")
        inst.tags = [InstanceTag(tag=t) for t in dict.fromkeys(tags)]
        await session.flush()
        out = inst.tag_list
    return _json({"tags": out})


@router.delete("/servers/{server_id}/tags", status_code=204)
async def delete_all(server_id: str, r: Req = Depends(req)) -> Response:
    _check_version(r)
    async with r.state.db.session() as session:
        inst = await _load(r, session, server_id, "delete_all")
        inst.tags = []
    return Response(status_code=204)


@router.get("/servers/{server_id}/tags/{tag}", status_code=204)
async def show(server_id: str, tag: str, r: Req = Depends(req)) -> Response:
    _check_version(r)
    async with r.state.db.reader() as session:
        inst = await _load(r, session, server_id, "show")
    if tag not in inst.tag_list:
        raise errors.NotFound(f"Tag {tag} could not be found.")
    return Response(status_code=204)


@router.put("/servers/{server_id}/tags/{tag}")
async def update(server_id: str, tag: str, r: Req = Depends(req)) -> Response:
    _check_version(r)
    schemas.tags([tag])
    async with r.state.db.session() as session:
        inst = await _load(r, session, server_id, "update")
        if tag in inst.tag_list:
            return Response(status_code=204)
        if len(inst.tags) >= MAX_TAGS:
            raise errors.BadRequest(f"The number of tags exceeded the per-server limit {MAX_TAGS}")
        inst.tags.append(InstanceTag(tag=tag))
    location = r.url(f"/servers/{server_id}/tags/{tag}")
    return Response(status_code=201, headers={"Location": headers.location(location)})


@router.delete("/servers/{server_id}/tags/{tag}", status_code=204)
async def delete(server_id: str, tag: str, r: Req = Depends(req)) -> Response:
    _check_version(r)
    async with r.state.db.session() as session:
        inst = await _load(r, session, server_id, "delete")
        found = [t for t in inst.tags if t.tag == tag]
        if not found:
            raise errors.NotFound(f"Tag {tag} could not be found.")
        inst.tags.remove(found[0])
    return Response(status_code=204)
