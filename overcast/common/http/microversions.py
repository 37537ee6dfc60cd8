"""Microversion negotiation, as Nova and Cinder do it.

Clients ask with `OpenStack-API-Version: <service> X.Y` (or a legacy header such as
`X-OpenStack-Nova-API-Version: X.Y`); `latest` means the maximum. A version outside the range
is refused with 406; a malformed one with 400. Responses echo the version and `Vary`.
`MicroversionMiddleware` does this for a whole API; `ProjectPathMiddleware` accepts the URLs
that carry the project id after the version.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from overcast.common import errors

# At most five digits a part: a longer version is not a version (400), not one too new (406).
_VERSION = re.compile(r"^([1-9]\d{0,4})\.([1-9]\d{0,4}|0)$")


@dataclass(frozen=True, order=True)
class APIVersion:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> APIVersion:
        match = _VERSION.match(text.strip())
        if not match:
            shown = text if len(text) <= 32 else text[:32] + "..."
            raise errors.BadRequest(f"Version {shown} is not a valid API version string.")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def at_least(self, text: str) -> bool:
        return self >= APIVersion.parse(text)


@dataclass(frozen=True)
class VersionRange:
    service_type: str  # the name in OpenStack-API-Version, e.g. "compute"
    minimum: APIVersion
    maximum: APIVersion
    legacy_header: str | None = None  # e.g. "x-openstack-nova-api-version"

    def negotiate(self, headers: Any) -> APIVersion:
        """The version a request asked for, or the minimum when it asked for none."""
        requested = None
        value = headers.get("openstack-api-version")
        if value:
            for item in value.split(","):
                name, _, version = item.strip().partition(" ")
                if name.lower() == self.service_type:
                    requested = version.strip()
        if requested is None and self.legacy_header:
            requested = headers.get(self.legacy_header)
        if not requested:
            return self.minimum
        if requested.strip().lower() == "latest":
            return self.maximum
        version = APIVersion.parse(requested)
        if not self.minimum <= version <= self.maximum:
            raise errors.NotAcceptable(
                f"Version {version} is not supported by the API. Minimum is {self.minimum} "
                f"and maximum is {self.maximum}."
            )
        return version

    def response_headers(self, version: APIVersion) -> dict[str, str]:
        headers = {
            "OpenStack-API-Version": f"{self.service_type} {version}",
            "Vary": "OpenStack-API-Version",
        }
        if self.legacy_header:
            canonical = "-".join(p.capitalize() for p in self.legacy_header.split("-"))
            canonical = canonical.replace("Openstack", "OpenStack").replace("Api", "API")
            headers[canonical] = str(version)
            headers["Vary"] = f"OpenStack-API-Version, {canonical}"
        return headers


def relative_path(scope: Scope) -> str:
    """The path below the mount point (Starlette keeps the full path in `path`)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class _Headers:
    def __init__(self, scope: Scope) -> None:
        self._h = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}

    def get(self, name: str) -> str | None:
        return self._h.get(name.lower())


class MicroversionMiddleware:
    """Negotiates the microversion of every request below `api_prefix` (e.g. "/v2.1"): a
    version outside `versions` is answered in the service's dialect (`render`), the one agreed
    is kept in `scope["state"][state_key]` and echoed in the response, as Nova and Cinder do."""

    def __init__(
        self,
        app: ASGIApp,
        versions: VersionRange,
        render: Callable[[int, str, str], Response],
        api_prefix: str,
        state_key: str,
    ) -> None:
        self.app = app
        self.versions = versions
        self.render = render
        self.api_prefix = api_prefix
        self.state_key = state_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not relative_path(scope).startswith(self.api_prefix):
            await self.app(scope, receive, send)
            return
        try:
            version = self.versions.negotiate(_Headers(scope))
        except errors.OvercastError as exc:
            await self.render(exc.status, exc.title, exc.message)(scope, receive, send)
            return
        scope.setdefault("state", {})[self.state_key] = version
        extra = [
            (k.encode(), v.encode()) for k, v in self.versions.response_headers(version).items()
        ]

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_version)


class ProjectPathMiddleware:
    """`<api_prefix>/<project_id>/rest` is served as `<api_prefix>/rest`: the older URLs of Nova
    and Cinder carry the project id, newer ones may leave it out. The id found is kept in
    `scope["state"]["path_project_id"]` for routes that compare it with the caller's."""

    _ID = r"([0-9a-f]{32}|[0-9a-f-]{36})"

    def __init__(self, app: ASGIApp, pattern: str, api_prefix: str) -> None:
        self.app = app
        self.pattern = re.compile(f"^{pattern}/{self._ID}(/.*)?$")
        self.api_prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            match = self.pattern.match(relative_path(scope))
            if match:
                rest = match.group(2) or ""
                scope = dict(scope)
                scope.setdefault("state", {})
                scope["state"] = {**scope["state"], "path_project_id": match.group(1)}
                scope["path"] = scope.get("root_path", "") + self.api_prefix + rest
                scope["raw_path"] = scope["path"].encode()
        await self.app(scope, receive, send)
