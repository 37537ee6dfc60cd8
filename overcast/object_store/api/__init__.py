"""The object store's HTTP surface: `GET /info` and every request under `/v1/`, dispatched by
how deep its path goes (account, container, object) as Swift's proxy does."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from overcast.common import errors
from overcast.object_store import constraints, state
from overcast.object_store.api import accounts, containers, info, objects
from overcast.object_store.api.call import Call

METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE", "COPY"]


async def v1(request: Request) -> Response:
    scope = request.scope
    raw = scope.get("raw_path") or scope["path"].encode()
    root = scope.get("root_path", "").encode()
    if root and raw.startswith(root):
        raw = raw[len(root) :]
    account, container, obj = constraints.split_path(constraints.decode_path(raw))
    if not account:
        raise errors.PreconditionFailed("Bad URL")
    query = scope.get("query_string", b"").decode("latin-1")
    params = dict(parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="replace"))
    call = Call(
        request=request,
        st=state.get(request),
        method=request.method,
        account=account,
        container=container,
        obj=obj,
        headers=Headers(scope=scope),
        params=params,
        context=scope.get("state", {}).get("context"),
    )
    if obj is not None:
        return await objects.handle(call)
    if container is not None:
        return await containers.handle(call)
    return await accounts.handle(call)


async def capabilities(_request: Request) -> Response:
    return JSONResponse(info.capabilities())


def install(app: FastAPI) -> None:
    app.add_api_route("/info", capabilities, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route("/v1/{rest:path}", v1, methods=METHODS, include_in_schema=False)
