"""The JSON shapes of domains, projects, users, groups and roles, exactly as Keystone shows them.

Extra attributes (stored in `extra`) come first so that no stored value can shadow a real one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request

from overcast.identity import models
from overcast.identity.api import links


def _when(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None


def _extra(row: Any) -> dict[str, Any]:
    extra = dict(row.extra or {})
    extra.pop("options", None)
    return extra


def domain(request: Request, row: models.Domain) -> dict[str, Any]:
    return {
        **_extra(row),
        "id": row.id,
        "name": row.name,
        "description": row.description or "",
        "enabled": row.enabled,
        "tags": list(row.tags or []),
        "options": dict((row.extra or {}).get("options") or {}),
        "links": links.self_link(request, f"domains/{row.id}"),
    }


def project(request: Request, row: models.Project) -> dict[str, Any]:
    return {
        **_extra(row),
        "id": row.id,
        "name": row.name,
        "domain_id": row.domain_id,
        "description": row.description or "",
        "enabled": row.enabled,
        "parent_id": row.parent_id or row.domain_id,
        "is_domain": False,
        "tags": list(row.tags or []),
        "options": dict((row.extra or {}).get("options") or {}),
        "links": links.self_link(request, f"projects/{row.id}"),
    }


def domain_as_project(request: Request, row: models.Domain) -> dict[str, Any]:
    """A domain in the project list (`?is_domain=true`), as Keystone stores domains."""
    return {
        **domain(request, row),
        "domain_id": None,
        "parent_id": None,
        "is_domain": True,
        "links": links.self_link(request, f"projects/{row.id}"),
    }


def user(request: Request, row: models.User) -> dict[str, Any]:
    body = {
        **(row.extra or {}),
        "id": row.id,
        "name": row.name,
        "domain_id": row.domain_id,
        "enabled": row.enabled,
        "password_expires_at": _when(row.password_expires_at),
        "options": dict(row.options or {}),
        "links": links.self_link(request, f"users/{row.id}"),
    }
    if row.default_project_id:
        body["default_project_id"] = row.default_project_id
    return body


def group(request: Request, row: models.Group) -> dict[str, Any]:
    return {
        **(row.extra or {}),
        "id": row.id,
        "name": row.name,
        "domain_id": row.domain_id,
        "description": row.description or "",
        "links": links.self_link(request, f"groups/{row.id}"),
    }


def role(request: Request, row: models.Role) -> dict[str, Any]:
    return {
        **(row.extra or {}),
        "id": row.id,
        "name": row.name,
        "domain_id": row.domain_id or None,
        "description": row.description,
        "options": dict(row.options or {}),
        "links": links.self_link(request, f"roles/{row.id}"),
    }


def role_ref(request: Request, row: models.Role) -> dict[str, Any]:
    """The short form of a role inside an implication."""
    return {
        "id": row.id,
        "name": row.name,
        "links": links.self_link(request, f"roles/{row.id}"),
    }
