"""Routes of /v2/metadefs (namespaces, their objects, properties, tags and resource type
associations, the resource types) and of their schemas, /v2/schemas/metadefs/{name}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http.auth import context
from overcast.image import metadefs
from overcast.image.api import json_body, state
from overcast.image.models import MetadefNamespace
from overcast.image.state import ImageState
from overcast.image.view import isotime

router = APIRouter(prefix="/v2")
NS = "/metadefs/namespaces/{namespace}"
# The parts of a namespace: URL segment -> (column, key in a list answer).
PARTS = {
    "objects": ("objects", "objects"),
    "properties": ("properties", "properties"),
    "tags": ("tags", "tags"),
    "resource_types": ("resource_types", "resource_type_associations"),
}
SCHEMA_NAMES = {
    "namespace": "namespace",
    "namespaces": "namespaces",
    "object": "object",
    "objects": "objects",
    "property": "property",
    "properties": "properties",
    "resource_type": "resource_type_association",
    "resource_types": "resource_type_associations",
    "tag": "tag",
    "tags": "tags",
}
Ctx = Depends(context)
St = Depends(state)


def _namespace(row: MetadefNamespace, *, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "namespace": row.namespace,
        "display_name": row.display_name,
        "description": row.description,
        "visibility": row.visibility,
        "protected": row.protected,
        "owner": row.owner,
        "created_at": isotime(row.created_at),
        "updated_at": isotime(row.updated_at),
        "self": f"/v2/metadefs/namespaces/{row.namespace}",
        "schema": "/v2/schemas/metadefs/namespace",
    }
    out = {k: v for k, v in out.items() if v is not None}
    associations = _listed(row, "resource_types")
    if associations:
        out["resource_type_associations"] = associations
    if full:
        if row.properties:
            out["properties"] = dict(row.properties)
        if row.objects:
            out["objects"] = _listed(row, "objects")
        if row.tags:
            out["tags"] = [{"name": name} for name in row.tags]
    return out


def _one(row: MetadefNamespace, column: str, key: str, value: dict[str, Any]) -> dict[str, Any]:
    if column == "properties":
        return {"name": key, **value}
    if column == "objects":
        return {
            **value,
            "name": key,
            "schema": "/v2/schemas/metadefs/object",
            "self": f"/v2/metadefs/namespaces/{row.namespace}/objects/{key}",
        }
    return {"name": key, **value}


def _listed(row: MetadefNamespace, column: str) -> list[dict[str, Any]]:
    return [_one(row, column, k, v) for k, v in (getattr(row, column) or {}).items()]


def _column(part: str) -> tuple[str, str]:
    found = PARTS.get(part)
    if found is None:
        raise errors.NotFound("The resource could not be found.")
    return found


@router.get("/schemas/metadefs/{name}")
async def schema(name: str, _ctx: RequestContext = Ctx) -> dict[str, Any]:
    title = SCHEMA_NAMES.get(name)
    if title is None:
        raise errors.NotFound(f"No schema named metadefs/{name}.")
    plural = name.endswith("s")
    item: dict[str, Any] = {"type": "object", "properties": {"name": {"type": "string"}}}
    if plural:
        return {
            "name": title,
            "type": "object",
            "properties": {title: {"type": "array", "items": item}},
        }
    return {"name": title, **item, "additionalProperties": False}


@router.get("/metadefs/resource_types")
async def resource_types(_ctx: RequestContext = Ctx) -> dict[str, Any]:
    stamp = "2014-08-28T17:13:06Z"
    return {
        "resource_types": [
            {"name": n, "created_at": stamp, "updated_at": stamp} for n in metadefs.RESOURCE_TYPES
        ]
    }


@router.get("/metadefs/namespaces")
async def index(request: Request, ctx: RequestContext = Ctx, st: ImageState = St) -> Any:
    q = request.query_params
    kinds = [t for t in q.get("resource_types", "").split(",") if t]
    rows = await metadefs.listed(st, ctx, q.get("visibility"), kinds)
    return {
        "namespaces": [_namespace(r, full=False) for r in rows],
        "first": "/v2/metadefs/namespaces",
        "schema": "/v2/schemas/metadefs/namespaces",
    }


@router.post("/metadefs/namespaces", status_code=201)
async def create(request: Request, ctx: RequestContext = Ctx, st: ImageState = St) -> Any:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise errors.BadRequest("The body must be a namespace object.")
    return _namespace(await metadefs.create(st, ctx, body), full=True)


@router.get(NS)
async def show(namespace: str, ctx: RequestContext = Ctx, st: ImageState = St) -> Any:
    return _namespace(await metadefs.get(st, ctx, namespace), full=True)


@router.put(NS)
async def update(
    namespace: str, request: Request, ctx: RequestContext = Ctx, st: ImageState = St
) -> Any:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise errors.BadRequest("The body must be a namespace object.")
    return _namespace(await metadefs.update(st, ctx, namespace, body), full=True)


@router.delete(NS, status_code=204)
async def delete(namespace: str, ctx: RequestContext = Ctx, st: ImageState = St) -> Response:
    await metadefs.delete(st, ctx, namespace)
    return Response(status_code=204)


@router.get(NS + "/{part}")
async def list_part(
    namespace: str, part: str, ctx: RequestContext = Ctx, st: ImageState = St
) -> Any:
    column, key = _column(part)
    row = await metadefs.get(st, ctx, namespace)
    if column == "properties":
        return {"properties": dict(row.properties or {})}
    found = _listed(row, column)
    if column == "objects":
        return {"objects": found, "schema": "/v2/schemas/metadefs/objects"}
    return {key: found}


@router.post(NS + "/{part}", status_code=201)
async def add_part(
    namespace: str, part: str, request: Request, ctx: RequestContext = Ctx, st: ImageState = St
) -> Any:
    column, key = _column(part)
    body = await json_body(request)
    if column == "tags":  # the bulk form: {"tags": [{"name": ...}, ...]} replaces them all
        tags = body.get("tags") if isinstance(body, dict) else None
        if not isinstance(tags, list):
            raise errors.BadRequest("The body must hold a list of tags.")

        def replace(row: MetadefNamespace) -> list[dict[str, Any]]:
            metadefs.drop_part(row, "tags", None)
            for tag in tags:
                metadefs.put_part(row, "tags", None, tag)
            return [{"name": n} for n in row.tags]

        return {"tags": await metadefs.change(st, ctx, namespace, replace)}
    name, value = await metadefs.change(
        st, ctx, namespace, lambda row: metadefs.put_part(row, column, None, body)
    )
    row = await metadefs.get(st, ctx, namespace)
    return _one(row, column, name, value)


@router.delete(NS + "/{part}", status_code=204)
async def drop_parts(
    namespace: str, part: str, ctx: RequestContext = Ctx, st: ImageState = St
) -> Response:
    column, _key = _column(part)
    await metadefs.change(st, ctx, namespace, lambda row: metadefs.drop_part(row, column, None))
    return Response(status_code=204)


@router.get(NS + "/{part}/{name}")
async def show_part(
    namespace: str, part: str, name: str, ctx: RequestContext = Ctx, st: ImageState = St
) -> Any:
    column, _key = _column(part)
    row = await metadefs.get(st, ctx, namespace)
    return _one(row, column, name, metadefs.part(row, column, name))


@router.post(NS + "/tags/{name}", status_code=201)
async def add_tag(namespace: str, name: str, ctx: RequestContext = Ctx, st: ImageState = St) -> Any:
    key, value = await metadefs.change(
        st, ctx, namespace, lambda row: metadefs.put_part(row, "tags", None, {"name": name})
    )
    return {"name": key, **value}


@router.put(NS + "/{part}/{name}")
async def update_part(
    namespace: str,
    part: str,
    name: str,
    request: Request,
    ctx: RequestContext = Ctx,
    st: ImageState = St,
) -> Any:
    column, _key = _column(part)
    body = await json_body(request)

    def replace(row: MetadefNamespace) -> tuple[str, dict[str, Any]]:
        metadefs.part(row, column, name)
        return metadefs.put_part(row, column, name, body)

    key, value = await metadefs.change(st, ctx, namespace, replace)
    row = await metadefs.get(st, ctx, namespace)
    return JSONResponse(_one(row, column, key, value))


@router.delete(NS + "/{part}/{name}", status_code=204)
async def delete_part(
    namespace: str, part: str, name: str, ctx: RequestContext = Ctx, st: ImageState = St
) -> Response:
    column, _key = _column(part)
    await metadefs.change(st, ctx, namespace, lambda row: metadefs.drop_part(row, column, name))
    return Response(status_code=204)
