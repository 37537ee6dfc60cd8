"""What every compute route depends on: `Req` (the caller, the negotiated microversion and the
service's `ComputeState`). Routes take `r: Req = Depends(req)`.

The microversion is negotiated once per request by `middleware.microversions`;
`r.at_least("2.47")` is how a route asks whether a behaviour applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http import auth, bodies
from overcast.common.http.microversions import APIVersion
from overcast.compute.api import middleware
from overcast.compute.state import ComputeState


@dataclass
class Req:
    ctx: RequestContext
    version: APIVersion
    state: ComputeState
    request: Request

    def at_least(self, version: str) -> bool:
        return self.version.at_least(version)

    def served(self, since: str = "2.1", removed_at: str | None = None) -> None:
        """404 when the negotiated microversion is outside the method's range, as Nova answers."""
        if not self.at_least(since) or (removed_at is not None and self.at_least(removed_at)):
            raise errors.NotFound(f"API version {self.version} is not supported on this method.")

    def enforce(self, rule: str, target: Mapping[str, Any] | None = None) -> None:
        """403 unless the caller may do `rule` (target defaults to the caller's project)."""
        target = (
            target
            if target is not None
            else {"project_id": self.ctx.project_id, "user_id": self.ctx.user_id}
        )
        self.state.policy.enforce(rule, self.ctx, target)

    def allowed(self, rule: str, target: Mapping[str, Any] | None = None) -> bool:
        target = (
            target
            if target is not None
            else {"project_id": self.ctx.project_id, "user_id": self.ctx.user_id}
        )
        return self.state.policy.check(rule, self.ctx, target)

    @property
    def bus_ctx(self) -> dict[str, Any]:
        return self.ctx.to_dict()

    def url(self, path: str = "") -> str:
        """An absolute URL under this API's `/v2.1` (for links)."""
        return f"{base_url(self.request)}/v2.1{path}"

    def bookmark(self, path: str = "") -> str:
        return base_url(self.request) + path


def base_url(request: Request) -> str:
    """The URL of the compute API's mount point (e.g. `http://host:port/compute`)."""
    root = str(request.base_url).rstrip("/")
    prefix = request.scope.get("root_path", "")
    return root if root.endswith(prefix) else root + prefix


def state(request: Request) -> ComputeState:
    found = request.app.state.compute
    assert isinstance(found, ComputeState)
    return found


async def req(request: Request) -> Req:
    """FastAPI dependency: the caller, the negotiated microversion and the service state."""
    version = request.scope.get("state", {}).get(middleware.STATE_KEY)
    if not isinstance(version, APIVersion):
        version = APIVersion(2, 1)
    return Req(auth.current(request), version, state(request), request)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; 400 in Nova's words when it is missing or malformed."""
    return await bodies.json_object(request)


async def action_body(request: Request) -> tuple[str, Any]:
    """The one action an `/action` body names, and its arguments."""
    body = await json_body(request)
    if len(body) != 1:
        raise errors.BadRequest("There is either no action or more than one in the request.")
    name, args = next(iter(body.items()))
    return name, args
