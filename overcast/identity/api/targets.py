"""Policy targets of identity resources, in Keystone's shape (`target.user.domain_id`...), and
the domain a create falls in when the body names none. Used by the resource routes."""

from __future__ import annotations

from typing import Any

from overcast.common.context import RequestContext

DEFAULT_DOMAIN = "default"


def of(kind: str, row: Any) -> dict[str, Any]:
    """{"target": {kind: {id, domain_id}}}; a domain is its own domain."""
    domain_id = getattr(row, "domain_id", None) or row.id
    return {"target": {kind: {"id": row.id, "domain_id": domain_id}}, "domain_id": domain_id}


def in_domain(domain_id: str | None) -> dict[str, Any]:
    """The target of a list or create in `domain_id` (no key at all when none is named, so
    that no rule can match an absent value)."""
    return {"domain_id": domain_id} if domain_id else {}


def default_domain(ctx: RequestContext) -> str:
    """Keystone puts new users, groups and projects in the token's domain, else the default."""
    return ctx.domain_id or DEFAULT_DOMAIN
