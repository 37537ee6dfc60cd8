"""The identity service (Keystone v3) as other units use it: a password token and the catalog
that comes with it (`overcast up` registering the default guest image), and an S3 request's
signature checked against its EC2 credential (`POST /v3/s3tokens`, for the object store's S3
API), answered with the token body of the credential's user on its project; whether a
project exists (compute's quota sets check it, as Nova does); and
`ServiceToken`, the cached token of a service's credentials (`service_user`,
`service_project`, `service_password`) that services act on each other with."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from overcast.clients.base import RestClient
from overcast.common import errors
from overcast.common.config import Settings

_MARGIN = 60.0  # renew a service token this many seconds before it expires


@dataclass(frozen=True)
class Token:
    id: str
    catalog: list[dict[str, Any]]
    expires_at: str | None = None

    def endpoint(self, service_type: str, interface: str = "public") -> str:
        for service in self.catalog:
            if service.get("type") != service_type:
                continue
            for endpoint in service.get("endpoints", []):
                if endpoint.get("interface") == interface:
                    return str(endpoint["url"])
        raise errors.ServiceUnavailable(f"no {interface} {service_type} endpoint in the catalog")


class IdentityClient(RestClient):
    service = "identity"

    async def project_exists(self, project_id: str) -> bool | None:
        """True or False; None when this token may not look (Nova then takes the id on trust)."""
        try:
            await self.request("GET", f"/projects/{project_id}")
        except errors.NotFound:
            return False
        except errors.Forbidden:
            return None
        return True

    async def password_token(
        self, username: str, password: str, project: str, domain: str = "Default"
    ) -> Token:
        """A project-scoped token for a user of `domain`, with its catalog."""
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": username, "domain": {"name": domain}, "password": password}
                    },
                },
                "scope": {"project": {"name": project, "domain": {"name": domain}}},
            }
        }
        response = await self.request("POST", "/auth/tokens", json_body=body)
        token = response.json()["token"]
        return Token(
            response.headers["X-Subject-Token"], token.get("catalog", []), token.get("expires_at")
        )

    async def s3_token(self, access: str, string_to_sign: str, signature: str) -> dict[str, Any]:
        """The token body (`{"token": {...}}`); errors.Unauthorized if the signature is not the
        credential's."""
        token = base64.urlsafe_b64encode(string_to_sign.encode()).decode()
        response = await self.request(
            "POST",
            "/s3tokens",
            json_body={"credentials": {"access": access, "token": token, "signature": signature}},
        )
        body: dict[str, Any] = response.json()
        return body


class ServiceToken:
    """One cached token for the service credentials of `settings`; without a service password
    the bootstrap admin's (DATA_DIR/admin-password) is used, as in a single-node cloud."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._token: str | None = None
        self._until = 0.0
        self._lock: asyncio.Lock | None = None

    def _password(self) -> str:
        if self.settings.service_password:
            return self.settings.service_password
        return (self.settings.data_dir / "admin-password").read_text().strip()

    async def get(self) -> str:
        if self._token is not None and time.monotonic() < self._until:
            return self._token
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._token is not None and time.monotonic() < self._until:
                return self._token
            client = IdentityClient(self.settings.base_url + "/v3", None)
            token = await client.password_token(
                self.settings.service_user, self._password(), self.settings.service_project
            )
            left = float(self.settings.identity.token_expiration)
            if token.expires_at:
                expires = dt.datetime.fromisoformat(token.expires_at.replace("Z", "+00:00"))
                left = (expires - dt.datetime.now(dt.UTC)).total_seconds()
            self._token, self._until = token.id, time.monotonic() + max(0.0, left - _MARGIN)
            return self._token

    def forget(self) -> None:
        self._token = None
