"""Cross-origin requests, as Swift answers them: a container's
`X-Container-Meta-Access-Control-Allow-Origin` (space-separated origins, or `*`), `-Max-Age`
and `-Expose-Headers` govern preflights (`OPTIONS` with `Origin` and
`Access-Control-Request-Method`) and the headers added to actual requests from an allowed
origin. Called by the dispatcher."""

from __future__ import annotations

from starlette.responses import Response

from overcast.object_store.api.call import Call, empty
from overcast.object_store.containers import ContainerInfo

ALLOWED_METHODS = "HEAD, GET, PUT, POST, COPY, OPTIONS, DELETE"
EXPOSED = (
    "cache-control, content-language, content-type, expires, last-modified, pragma, etag, "
    "x-timestamp, x-trans-id, x-openstack-request-id"
)


def _origin_allowed(info: ContainerInfo | None, origin: str) -> bool:
    if info is None:
        return False
    allowed = info.get("x-container-meta-access-control-allow-origin").split()
    return "*" in allowed or origin in allowed


async def preflight(call: Call) -> Response:
    origin = call.header("origin")
    method = call.header("access-control-request-method")
    if not origin or not method:
        return empty(200, {"Allow": ALLOWED_METHODS})
    info = await call.container_info() if call.container is not None else None
    if not _origin_allowed(info, origin) or method.upper() not in ALLOWED_METHODS.split(", "):
        return empty(401)
    assert info is not None
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
    }
    if call.header("access-control-request-headers"):
        headers["Access-Control-Allow-Headers"] = call.header("access-control-request-headers")
    max_age = info.get("x-container-meta-access-control-max-age")
    if max_age:
        headers["Access-Control-Max-Age"] = max_age
    return empty(200, headers)


async def decorate(call: Call, response: Response) -> Response:
    """An actual request from an allowed origin gets the CORS answer headers."""
    origin = call.header("origin")
    if not origin or call.container is None:
        return response
    info = await call.container_info()
    if not _origin_allowed(info, origin):
        return response
    assert info is not None
    extra = info.get("x-container-meta-access-control-expose-headers")
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = EXPOSED + (f", {extra}" if extra else "")
    return response
