"""The generic routes of every resource in `registry.KINDS`: list, create, show, update and
delete under `/v2.0/<path>`, and the tag sub-resource (`/v2.0/<path>/<id>/tags[/<tag>]`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from overcast.common import errors
from overcast.network import attributes, listing, operations
from overcast.network.api import base_url, current, json_body, state
from overcast.network.kinds import Kind
from overcast.network.registry import KINDS

router = APIRouter(prefix="/v2.0")


def _tagged(path: str) -> Kind:
    """A kind whose resources carry tags (not agents or RBAC policies)."""
    found = _kind(path)
    if not found.tagged:
        raise errors.NotFound("The resource could not be found.", kind="HTTPNotFound")
    return found


def _kind(path: str) -> Kind:
    found = KINDS.get(path.removesuffix(".json"))
    if found is None:
        raise errors.NotFound("The resource could not be found.", kind="HTTPNotFound")
    return found


# Routes answer JSONResponse themselves: FastAPI's encoder would walk every value of a list of
# thousands of ports again before serialising it (several times json.dumps' cost).


@router.get("/{path}")
async def index(path: str, request: Request) -> JSONResponse:
    kind = _kind(path)
    params = list(request.query_params.multi_items())
    q = listing.parse_query(params)
    url = f"{base_url(request)}/v2.0/{kind.path}"
    st, ctx = state(request), current(request)
    await operations.prepare(st, ctx, kind)
    body = await operations.read(st, ctx, lambda op: listing.run(op, kind, q, url, params))
    return JSONResponse(body)


@router.post("/{path}", status_code=201)
async def create(path: str, request: Request) -> JSONResponse:
    kind = _kind(path)
    body = await json_body(request)
    st = state(request)
    result = await operations.run(
        st, current(request), lambda op: operations.create(op, kind, body)
    )
    return JSONResponse(result, status_code=201)


async def create_directly(request: Request) -> JSONResponse:
    """`POST /v2.0/<path>` past FastAPI's layers (`ServiceApp.answer_directly`): creates,
    ports above all (one or more for every boot), are this API's busiest writes."""
    return await create(request.scope["path"].rpartition("/")[2], request)


@router.get("/{path}/{ident}")
async def show(path: str, ident: str, request: Request) -> JSONResponse:
    kind = _kind(path)
    fields = listing.parse_query(list(request.query_params.multi_items())).fields
    view = await operations.read(
        state(request), current(request), lambda op: operations.show(op, kind, ident, fields)
    )
    return JSONResponse({kind.name: view})


@router.put("/{path}/{ident}")
async def update(path: str, ident: str, request: Request) -> JSONResponse:
    kind = _kind(path)
    body = await json_body(request)
    st = state(request)
    if_match = request.headers.get("if-match")
    result = await operations.run(
        st, current(request), lambda op: operations.update(op, kind, ident, body, if_match)
    )
    return JSONResponse(result)


@router.delete("/{path}/{ident}", status_code=204)
async def delete(path: str, ident: str, request: Request) -> Response:
    kind = _kind(path)
    st = state(request)
    if_match = request.headers.get("if-match")
    await operations.run(
        st, current(request), lambda op: operations.delete(op, kind, ident, if_match)
    )
    return Response(status_code=204)


@router.get("/{path}/{ident}/tags")
async def get_tags(path: str, ident: str, request: Request) -> dict[str, Any]:
    kind = _tagged(path)
    found = await operations.read(
        state(request), current(request), lambda op: operations.tags(op, kind, ident, None)
    )
    return {"tags": found}


@router.put("/{path}/{ident}/tags")
async def replace_tags(path: str, ident: str, request: Request) -> dict[str, Any]:
    kind = _tagged(path)
    body = await json_body(request)
    if not isinstance(body, dict) or "tags" not in body:
        raise errors.BadRequest("Invalid tags body", kind="HTTPBadRequest")
    new = attributes.tags(body["tags"])
    found = await operations.run(
        state(request),
        current(request),
        lambda op: operations.tags(op, kind, ident, lambda _old: new),
    )
    return {"tags": found}


@router.delete("/{path}/{ident}/tags", status_code=204)
async def clear_tags(path: str, ident: str, request: Request) -> Response:
    kind = _tagged(path)
    await operations.run(
        state(request),
        current(request),
        lambda op: operations.tags(op, kind, ident, lambda _old: []),
    )
    return Response(status_code=204)


@router.get("/{path}/{ident}/tags/{tag}", status_code=204)
async def has_tag(path: str, ident: str, tag: str, request: Request) -> Response:
    kind = _tagged(path)
    found = await operations.read(
        state(request), current(request), lambda op: operations.tags(op, kind, ident, None)
    )
    if tag not in found:
        raise errors.NotFound(f"Tag {tag} could not be found.", kind="TagNotFound")
    return Response(status_code=204)


@router.put("/{path}/{ident}/tags/{tag}", status_code=201)
async def add_tag(path: str, ident: str, tag: str, request: Request) -> Response:
    kind = _tagged(path)
    attributes.tags([tag])
    await operations.run(
        state(request),
        current(request),
        lambda op: operations.tags(op, kind, ident, lambda old: [*old, tag]),
    )
    return Response(status_code=201)


@router.delete("/{path}/{ident}/tags/{tag}", status_code=204)
async def remove_tag(path: str, ident: str, tag: str, request: Request) -> Response:
    kind = _tagged(path)

    def without(old: list[str]) -> list[str]:
        if tag not in old:
            raise errors.NotFound(f"Tag {tag} could not be found.", kind="TagNotFound")
        return [t for t in old if t != tag]

    await operations.run(
        state(request), current(request), lambda op: operations.tags(op, kind, ident, without)
    )
    return Response(status_code=204)
