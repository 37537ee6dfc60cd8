"""What Nova's proxy APIs (to the network and block storage services) share: they end at
microversion 2.35, and each route is one policy rule. A route takes
`r: Req = proxied("os_compute_api:...")` and finds both checked."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Response

from overcast.compute.api.deps import Req, req


def proxied(rule: str) -> Any:
    """The route's `Req`, once the microversion is at most 2.35 and the caller may do `rule`."""

    async def checked(r: Req = Depends(req)) -> Req:
        r.served(removed_at="2.36")
        r.enforce(rule)
        return r

    return Depends(checked)


def accepted() -> Response:
    return Response(status_code=202)
