"""What logging in and switching project ask of the identity API: a password token, the
projects the user may work in, a token rescoped to one of them, and revocation. Called by
`pages/auth.py` only; everything else a page does goes through `cloud.Cloud`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from overcast.clients.base import RestClient
from overcast.common import errors


@dataclass(frozen=True)
class Issued:
    token: str
    user_id: str
    user_name: str
    project: tuple[str, str] | None  # (id, name) when project-scoped
    roles: list[str]
    expires_at: dt.datetime


def _issued(response: Any) -> Issued:
    body = response.json()["token"]
    project = body.get("project")
    expires = dt.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    return Issued(
        token=response.headers["X-Subject-Token"],
        user_id=body["user"]["id"],
        user_name=body["user"]["name"],
        project=(project["id"], project["name"]) if project else None,
        roles=sorted(r["name"] for r in body.get("roles", [])),
        expires_at=expires,
    )


class Keystone:
    def __init__(self, endpoint: str) -> None:
        self.client = RestClient(endpoint, None)
        self.client.service = "identity"

    async def password(self, domain: str, user: str, password: str) -> Issued:
        """A token for the password (scoped to the user's default project, if any)."""
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": user, "domain": {"name": domain}, "password": password}
                    },
                }
            }
        }
        return _issued(await self.client.request("POST", "/auth/tokens", json_body=body))

    async def projects(self, token: str) -> list[dict[str, Any]]:
        response = await self.client.request(
            "GET", "/auth/projects", headers={"X-Auth-Token": token}
        )
        found: list[dict[str, Any]] = response.json()["projects"]
        return sorted(found, key=lambda p: str(p.get("name", "")))

    async def rescope(self, token: str, project_id: str) -> Issued:
        body = {
            "auth": {
                "identity": {"methods": ["token"], "token": {"id": token}},
                "scope": {"project": {"id": project_id}},
            }
        }
        return _issued(await self.client.request("POST", "/auth/tokens", json_body=body))

    async def revoke(self, token: str) -> None:
        """Revoke `token` (a token already gone counts as revoked)."""
        try:
            await self.client.request(
                "DELETE",
                "/auth/tokens",
                headers={"X-Auth-Token": token, "X-Subject-Token": token},
            )
        except (errors.NotFound, errors.Unauthorized):
            pass
