"""The identity service (Keystone v3) as an operator tool uses it: a password token and the
catalog that comes with it. Used by `overcast up` to register the default guest image."""

from __future__ import annotations

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
