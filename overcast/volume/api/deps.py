"""What every block storage route depends on: `Req` (the caller, the negotiated microversion,
the service's `VolumeState`). Routes take `r: Req = Depends(req)`; `r.at_least("3.42")` is how
a route asks whether a behaviour applies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http import auth
from overcast.common.http.microversions import APIVersion
from overcast.volume.state import VolumeState

STATE_KEY = "volume_version"
BASE = APIVersion(3, 0)


@dataclass
class Req:
    ctx: RequestContext
    version: APIVersion
    state: VolumeState
    request: Request

    def at_least(self, version: str) -> bool:
        return self.version.at_least(version)

    def require(self, version: str) -> None:
        """404, as Cinder answers a route that its caller's microversion does not have."""
        if not self.version.at_least(version):
            raise errors.NotFound(f"API version {self.version} does not have this resource.")

    def target(self, project_id: str | None = None) -> dict[str, Any]:
        return {"project_id": project_id or self.ctx.project_id, "user_id": self.ctx.user_id}

    def enforce(self, rule: str, target: Mapping[str, Any] | None = None) -> None:
        """403 unless the caller may do `rule` (target defaults to the caller's project)."""
        self.state.policy.enforce(rule, self.ctx, target if target is not None else self.target())

    def allowed(self, rule: str, target: Mapping[str, Any] | None = None) -> bool:
        return self.state.policy.check(
            rule, self.ctx, target if target is not None else self.target()
        )

    @property
    def project_id(self) -> str:
        return self.ctx.project_id or ""

    @property
    def bus_ctx(self) -> dict[str, Any]:
        return self.ctx.to_dict()

    def url(self, path: str = "") -> str:
        """An absolute URL of this API (for links): `.../volume/v3/<project>/<path>`."""
        return f"{base_url(self.request)}/v3/{self.project_id}{path}"

    def bookmark(self, path: str = "") -> str:
        return f"{base_url(self.request)}/{self.project_id}{path}"

    def links(self, kind: str, resource_id: str) -> list[dict[str, str]]:
        return [
            {"href": self.url(f"/{kind}/{resource_id}"), "rel": "self"},
            {"href": self.bookmark(f"/{kind}/{resource_id}"), "rel": "bookmark"},
        ]


def base_url(request: Request) -> str:
    """The URL of the block storage API's mount point (e.g. `http://host:port/volume`)."""
    root = str(request.base_url).rstrip("/")
    prefix = request.scope.get("root_path", "")
    return root if root.endswith(prefix) else root + prefix


async def req(request: Request) -> Req:
    """FastAPI dependency: the caller, the negotiated microversion and the service state."""
    version = request.scope.get("state", {}).get(STATE_KEY)
    found = request.app.state.volume
    assert isinstance(found, VolumeState)
    return Req(
        auth.current(request), version if isinstance(version, APIVersion) else BASE, found, request
    )
