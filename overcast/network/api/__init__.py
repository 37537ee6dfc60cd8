"""The network API (Neutron v2.0): HTTP only. Routes parse, check policy and answer; the
resource modules of `overcast.network` decide. Specific routes (router interfaces, quotas,
tags, ...) come before the generic resource routes, gathered in `routers()`."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from overcast.common import errors
from overcast.common.http import auth
from overcast.common.http.direct import ServiceApp
from overcast.network.state import NetworkState


def state(request: Request) -> NetworkState:
    found = request.app.state.network
    assert isinstance(found, NetworkState)
    return found


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise errors.BadRequest("Resource body required", kind="HTTPBadRequest")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise errors.BadRequest("Malformed request body", kind="HTTPBadRequest") from exc


def base_url(request: Request) -> str:
    """The URL of the network API's mount point (e.g. `http://host:port/network`)."""
    root = str(request.base_url).rstrip("/")
    prefix = request.scope.get("root_path", "")
    return root if root.endswith(prefix) else root + prefix


current = auth.current


def answer_directly(app: ServiceApp) -> None:
    """The creates (`POST /v2.0/<path>`) skip FastAPI's layers: about 6% of the event
    loop's time in concurrent port creates went to them."""
    from overcast.network.api import resources

    app.answer_directly("/v2.0/", ["POST"], resources.create_directly, leaf=True)


def routers() -> list[Any]:
    from overcast.network.api import extras, l3, resources, versions

    return [versions.router, l3.router, extras.router, resources.router]
