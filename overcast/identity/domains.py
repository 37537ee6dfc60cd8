"""Domains: create, update (disabling revokes the domain's tokens), delete (only when disabled,
taking everything in the domain with it). Called by `api/domains.py` inside a session.

`values` are validated request fields; names outside the domain's own attributes are kept in
`extra` and returned flat, as Keystone does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.identity import cascade, lookup, models, options

DEFAULT = "default"  # made by bootstrap; the admin user lives in it
OWN = {"name", "description", "enabled", "tags", "options"}
IGNORED = {"id", "links"}


def merge_extra(current: dict[str, Any] | None, values: dict[str, Any], own: set[str]) -> Any:
    """`current` extra attributes updated with the values that are not `own` attributes."""
    extra = dict(current or {})
    extra.update({k: v for k, v in values.items() if k not in own and k not in IGNORED})
    if "options" in values:
        extra["options"] = options.merge(extra.get("options"), values["options"], options.RESOURCE)
    return extra


async def create(session: AsyncSession, values: dict[str, Any]) -> models.Domain:
    name = values["name"]
    await lookup.ensure_unique(session, models.Domain, name, None)
    domain = models.Domain(
        name=name,
        description=values.get("description") or "",
        enabled=values.get("enabled", True),
        tags=list(values.get("tags") or []),
        extra=merge_extra({}, values, OWN),
    )
    session.add(domain)
    await lookup.flush(session, "domain", name)
    return domain


async def update(session: AsyncSession, domain: models.Domain, values: dict[str, Any]) -> bool:
    """Apply `values`; True when the domain went from enabled to disabled."""
    lookup.check_mutable(domain, "domain", values)
    if domain.id == DEFAULT and values.get("enabled") is False:
        raise errors.Forbidden("The default domain cannot be disabled.")
    name = values.get("name")
    if name is not None and name != domain.name:
        await lookup.ensure_unique(session, models.Domain, name, None, domain.id)
        domain.name = name
    if "description" in values:
        domain.description = values["description"] or ""
    if values.get("tags") is not None:
        domain.tags = list(values["tags"])
    domain.extra = merge_extra(domain.extra, values, OWN)
    disabled = values.get("enabled") is False and domain.enabled
    if values.get("enabled") is not None:
        domain.enabled = values["enabled"]
    await lookup.flush(session, "domain", domain.name)
    if disabled:
        await cascade.revoke_domain(session, domain.id)
    return disabled


async def delete(session: AsyncSession, domain: models.Domain) -> None:
    if domain.enabled:
        raise errors.Forbidden("Cannot delete a domain that is enabled, please disable it first.")
    lookup.check_mutable(domain, "domain")
    await cascade.forget_domain(session, domain.id)
    await session.delete(domain)
