"""Microversion negotiation, as Nova and Cinder do it.

Clients ask with `OpenStack-API-Version: <service> X.Y` (or a legacy header such as
`X-OpenStack-Nova-API-Version: X.Y`); `latest` means the maximum. A version outside the range
is refused with 406; a malformed one with 400. Responses echo the version and `Vary`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from overcast.common import errors

_VERSION = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


@dataclass(frozen=True, order=True)
class APIVersion:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> APIVersion:
        match = _VERSION.match(text.strip())
        if not match:
            raise errors.BadRequest(f"Version {text} is not a valid API version string.")
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
