"""Compute's image proxy (`/images`, Nova below microversion 2.36): the image service's images in
Nova's view (minRam, minDisk, metadata, status, progress, the server a snapshot came from) and
their metadata, read and changed through the image service's API with the caller's token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from overcast.clients.image import ImageClient, properties
from overcast.common import errors
from overcast.compute import servers
from overcast.compute.api import schemas
from overcast.compute.api.deps import Req, json_body, req
from overcast.compute.api.views import links

router = APIRouter(prefix="/v2.1/images")
_STATUS = {
    "active": "ACTIVE",
    "queued": "SAVING",
    "saving": "SAVING",
    "uploading": "SAVING",
    "importing": "SAVING",
    "deleted": "DELETED",
    "pending_delete": "DELETED",
    "killed": "ERROR",
    "deactivated": "ERROR",
}
_PROGRESS = {"queued": 25, "saving": 50, "uploading": 50, "importing": 50, "active": 100}
MAX_METADATA = 128


def _client(r: Req, image_id: str | None = None) -> ImageClient:
    """The image service's client for this request; an id that is no UUID names no image."""
    if r.at_least("2.36"):
        raise errors.NotFound("The resource could not be found.")
    if image_id is not None and not schemas.is_uuid(image_id):
        raise errors.NotFound(f"Image {image_id} could not be found.")
    return r.state.remote.image(r.ctx.to_dict())


def _view(r: Req, image: dict[str, Any], *, detail: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": image["id"], "name": image.get("name")}
    out["links"] = links(r, "images", image["id"])
    if not detail:
        return out
    meta = properties(image)
    status = image.get("status", "")
    out.update(
        {
            "minRam": image.get("min_ram") or 0,
            "minDisk": image.get("min_disk") or 0,
            "metadata": meta,
            "created": image.get("created_at"),
            "updated": image.get("updated_at"),
            "status": _STATUS.get(status, "UNKNOWN"),
            "progress": _PROGRESS.get(status, 0),
            "OS-EXT-IMG-SIZE:size": image.get("size"),
        }
    )
    if meta.get("instance_uuid"):
        uuid = meta["instance_uuid"]
        out["server"] = {"id": uuid, "links": links(r, "servers", uuid)}
    return out


def _wanted(image: dict[str, Any], query: dict[str, str]) -> bool:
    meta = properties(image)
    checks = (
        ("name", lambda v: image.get("name") == v),
        ("status", lambda v: _STATUS.get(image.get("status", ""), "UNKNOWN") == v.upper()),
        ("server", lambda v: meta.get("instance_uuid") == v.rstrip("/").rsplit("/", 1)[-1]),
        ("type", lambda v: meta.get("image_type", "image") == v),
        ("minRam", lambda v: (image.get("min_ram") or 0) >= int(v)),
        ("minDisk", lambda v: (image.get("min_disk") or 0) >= int(v)),
        ("changes-since", lambda v: image.get("updated_at", "") >= _iso(v)),
    )
    try:
        return all(test(query[key]) for key, test in checks if key in query)
    except ValueError as exc:
        raise errors.BadRequest(f"Invalid image filter: {exc}") from exc


def _iso(value: str) -> str:
    stamp = servers.parse_time(value, "changes-since")
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


async def _list(r: Req, request: Request, *, detail: bool) -> dict[str, Any]:
    client = _client(r)
    query = dict(request.query_params)
    paging = {k: query[k] for k in ("limit", "marker") if k in query}
    found = [i for i in await client.list(**paging) if _wanted(i, query)]
    return {"images": [_view(r, i, detail=detail) for i in found]}


@router.get("")
async def index(request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    return await _list(r, request, detail=False)


@router.get("/detail")
async def detail(request: Request, r: Req = Depends(req)) -> dict[str, Any]:
    return await _list(r, request, detail=True)


@router.get("/{image_id}")
async def show(image_id: str, r: Req = Depends(req)) -> dict[str, Any]:
    image = await _client(r, image_id).get(image_id)
    if image.get("status") in ("deleted", "pending_delete"):
        raise errors.NotFound(f"Image {image_id} could not be found.")
    return {"image": _view(r, image, detail=True)}


@router.delete("/{image_id}", status_code=204)
async def delete(image_id: str, r: Req = Depends(req)) -> Response:
    await _client(r, image_id).delete(image_id)
    return Response(status_code=204)


async def _metadata_body(request: Request, key: str) -> dict[str, str]:
    body = (await json_body(request)).get(key)
    if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
        raise errors.BadRequest(f"Invalid input for field/attribute {key}.")
    return body


async def _set(
    r: Req, image_id: str, changes: dict[str, str], removed: tuple[str, ...] = ()
) -> dict[str, Any]:
    client = _client(r, image_id)
    current = properties(await client.get(image_id))
    if len(set(current) - set(removed) | set(changes)) > MAX_METADATA:
        raise errors.Forbidden(f"Quota exceeded: at most {MAX_METADATA} metadata items.")
    return properties(await client.update(image_id, changes, removed))


@router.get("/{image_id}/metadata")
async def show_metadata(image_id: str, r: Req = Depends(req)) -> dict[str, Any]:
    return {"metadata": properties(await _client(r, image_id).get(image_id))}


@router.post("/{image_id}/metadata")
async def update_metadata(image_id: str, request: Request, r: Req = Depends(req)) -> Any:
    changes = await _metadata_body(request, "metadata")
    return {"metadata": await _set(r, image_id, changes)}


@router.put("/{image_id}/metadata")
async def replace_metadata(image_id: str, request: Request, r: Req = Depends(req)) -> Any:
    changes = await _metadata_body(request, "metadata")
    current = properties(await _client(r, image_id).get(image_id))
    removed = tuple(k for k in current if k not in changes)
    return {"metadata": await _set(r, image_id, changes, removed)}


@router.get("/{image_id}/metadata/{key}")
async def show_item(image_id: str, key: str, r: Req = Depends(req)) -> dict[str, Any]:
    meta = properties(await _client(r, image_id).get(image_id))
    if key not in meta:
        raise errors.NotFound(f"Image {image_id} has no metadata item {key}.")
    return {"meta": {key: meta[key]}}


@router.put("/{image_id}/metadata/{key}")
async def set_item(image_id: str, key: str, request: Request, r: Req = Depends(req)) -> Any:
    item = await _metadata_body(request, "meta")
    if set(item) != {key}:
        raise errors.BadRequest("Request body and URI mismatch")
    await _set(r, image_id, item)
    return {"meta": item}


@router.delete("/{image_id}/metadata/{key}", status_code=204)
async def delete_item(image_id: str, key: str, r: Req = Depends(req)) -> Response:
    meta = properties(await _client(r, image_id).get(image_id))
    if key not in meta:
        raise errors.NotFound(f"Image {image_id} has no metadata item {key}.")
    await _set(r, image_id, {}, (key,))
    return Response(status_code=204)
