"""Finding identity rows by id with Keystone's 404s, and storing them with Keystone's 409s.

Used by the domain-logic modules (domains, projects, users, groups, role_defs, grants).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.identity import models

Row = TypeVar("Row")

KINDS: dict[type[Any], str] = {
    models.Domain: "domain",
    models.Project: "project",
    models.User: "user",
    models.Group: "group",
    models.Role: "role",
    models.Credential: "credential",
}


async def get(session: AsyncSession, model: type[Row], row_id: str) -> Row:
    """The row with `row_id`, or 404 "Could not find <kind>: <id>."."""
    found = await session.get(model, row_id) if row_id else None
    if found is None:
        raise errors.NotFound(f"Could not find {KINDS.get(model, 'resource')}: {row_id}.")
    return found


def duplicate(kind: str, name: str, domain_id: str | None = None) -> errors.Conflict:
    where = f" at domain ID {domain_id}" if domain_id is not None else ""
    return errors.Conflict(
        f"Conflict occurred attempting to store {kind} - "
        f"Duplicate entry found with name {name}{where}."
    )


async def ensure_unique(
    session: AsyncSession,
    model: Any,
    name: str,
    domain_id: str | None,
    exclude_id: str | None = None,
) -> None:
    """409 if another row of `model` has `name` (in `domain_id` when the model has domains)."""
    stmt = select(model.id).where(model.name == name)
    if domain_id is not None:
        stmt = stmt.where(model.domain_id == domain_id)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    if (await session.execute(stmt.limit(1))).first() is not None:
        shown = domain_id if domain_id != models.GLOBAL else None
        raise duplicate(KINDS[model], name, shown)


async def flush(session: AsyncSession, kind: str, name: str, domain_id: str | None = None) -> None:
    """Flush, turning a unique-constraint race (two creates at once) into Keystone's 409."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise duplicate(kind, name, domain_id) from exc


async def flush_once(session: AsyncSession, what: str) -> None:
    """Flush a row keyed by its content (a grant, a membership): when a concurrent request
    stored the same row first, answer 409 rather than fail."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise errors.Conflict(
            f"Conflict occurred attempting to store {what} - another request changed it at "
            "the same time; try again."
        ) from exc


def check_mutable(row: Any, kind: str, changes: dict[str, Any] | None = None) -> None:
    """403 when `row` carries the `immutable` option, unless the change only lifts it."""
    options = _options(row)
    if not options.get("immutable"):
        return
    if changes is not None and set(changes) == {"options"}:
        if changes["options"].get("immutable") in (False, None):
            return
    raise errors.Forbidden(f"Resource {kind} {row.id} is immutable.")


def _options(row: Any) -> dict[str, Any]:
    options = getattr(row, "options", None)
    if options is None:
        options = (row.extra or {}).get("options") or {}
    return dict(options)
