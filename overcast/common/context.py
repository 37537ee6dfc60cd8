"""The request context: who is calling, in which scope, with which roles.

Built by the auth middleware from a validated token; handed to policy checks, domain logic and
(as a plain dict) over the bus.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RequestContext:
    user_id: str | None = None
    user_name: str | None = None
    user_domain_id: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None
    system_scope: str | None = None
    roles: tuple[str, ...] = ()
    auth_token: str | None = None
    request_id: str | None = None
    expires_at: str | None = None
    application_credential_id: str | None = None
    audit_ids: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def scope(self) -> str:
        if self.system_scope:
            return "system"
        if self.project_id:
            return "project"
        if self.domain_id:
            return "domain"
        return "unscoped"

    def credentials(self) -> dict[str, Any]:
        """The credentials dict that oslo.policy checks rules against."""
        return {
            "user_id": self.user_id,
            "user_domain_id": self.user_domain_id,
            "project_id": self.project_id,
            "project_domain_id": self.project_domain_id,
            "domain_id": self.domain_id,
            "system_scope": self.system_scope,
            "roles": list(self.roles),
        }

    @property
    def policy_key(self) -> tuple[Any, ...]:
        """Every field `credentials()` holds, as a key for remembered policy decisions."""
        return (
            self.user_id,
            self.user_domain_id,
            self.project_id,
            self.project_domain_id,
            self.domain_id,
            self.system_scope,
            self.roles,
        )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["roles"] = list(self.roles)
        data["audit_ids"] = list(self.audit_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestContext:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["roles"] = tuple(values.get("roles") or ())
        values["audit_ids"] = tuple(values.get("audit_ids") or ())
        return cls(**values)

    def with_request_id(self, request_id: str) -> RequestContext:
        """This context for one request (every request makes one): its fields copied as one
        dict, not through `dataclasses.replace`, which runs `__init__` over every field."""
        twin = object.__new__(type(self))
        object.__setattr__(twin, "__dict__", {**self.__dict__, "request_id": request_id})
        return twin
