"""The object store's HTTP surface: `GET /info` and every request under `/v1/`, dispatched by
how deep its path goes (account, container, object) as Swift's proxy does."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from overcast.common import errors
from overcast.common.http.direct import ServiceApp
from overcast.object_store import access, constraints, state, tempurl
from overcast.object_store.api import (
    accounts,
    bulk,
    containers,
    cors,
    formpost,
    info,
    objects,
    probes,
    staticweb,
)
from overcast.object_store.api.call import Call

METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE", "COPY", "OPTIONS"]


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
    if call.method == "OPTIONS":
        return await cors.preflight(call)
    return await cors.decorate(call, await _route(call))


async def _route(call: Call) -> Response:
    params, obj, container = call.params, call.obj, call.container
    if call.method in ("POST", "DELETE") and "bulk-delete" in params and obj is None:
        return await bulk.bulk_delete(call)
    if container is not None and formpost.is_form(call):
        return await formpost.handle(call)
    if call.method == "PUT" and "extract-archive" in params:
        return await bulk.extract(call, params["extract-archive"])
    if container is not None and call.method in ("GET", "HEAD") and "temp_url_sig" not in params:
        web = await call.container_info()
        if web is not None and staticweb.applies(call, web):
            return await staticweb.handle(call, web)
    if obj is not None:
        if "temp_url_sig" in params:
            return await _temp_url(call)
        return await objects.handle(call)
    if container is not None:
        return await containers.handle(call)
    return await accounts.handle(call)


async def _temp_url(call: Call) -> Response:
    """A request signed with a temp URL key: the one object, as its owner would, or 401."""
    assert call.container is not None and call.obj is not None
    if call.method not in tempurl.METHODS:
        raise errors.Unauthorized("Temp URLs allow GET, HEAD and PUT only")
    account = await call.st.containers.account(call.account)
    info = await call.container_info()
    keys = [account.get(k) for k in tempurl.KEYS]
    if info is not None:
        keys += [info.get(k) for k in tempurl.CONTAINER_KEYS]
    path = f"/v1/{call.account}/{call.container}/{call.obj}"
    if not tempurl.valid(call.method, path, call.params, [k for k in keys if k], mount=call.mount):
        raise errors.Unauthorized("Temp URL invalid")
    call._caller = access.Caller(None, call.account, owner=True, reseller=False)
    response = await objects.handle(call)
    if call.method == "GET" and response.status_code < 300:
        if "inline" in call.params:
            response.headers["Content-Disposition"] = "inline"
        else:
            name = call.params.get("filename") or call.obj.rsplit("/", 1)[-1]
            quoted = quote(name, safe="")
            response.headers["Content-Disposition"] = (
                f"attachment; filename=\"{quoted}\"; filename*=UTF-8''{quoted}"
            )
    return response


async def capabilities(request: Request) -> Response:
    return JSONResponse(info.capabilities(state.get(request).settings))


def install(app: ServiceApp) -> None:
    """Swift's requests need none of FastAPI's parameter machinery (which would cost every
    small object request a fifth of its time), nor its layers: `/v1/` is answered directly."""
    app.add_route("/info", capabilities, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_route("/healthcheck", probes.healthcheck, methods=["GET", "HEAD"])
    app.add_route("/crossdomain.xml", probes.crossdomain, methods=["GET"])
    app.answer_directly("/v1/", METHODS, v1)
