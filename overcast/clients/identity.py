"""The identity service (Keystone v3) as other units use it: a password token and the catalog
that comes with it (`overcast up` registering the default guest image), and an S3 request's
signature checked against its EC2 credential (`POST /v3/s3tokens`, for the object store's S3
API), answered with the token body of the credential's user on its project."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from overcast.clients.base import RestClient
from overcast.common import errors


@dataclass(frozen=True)
class Token:
    id: str
    catalog: list[dict[str, Any]]

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
        return Token(
            response.headers["X-Subject-Token"], response.json()["token"].get("catalog", [])
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
