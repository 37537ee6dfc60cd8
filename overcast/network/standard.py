"""Neutron's standard attributes on every resource: tags, timestamps, the revision number
that each change bumps, and `If-Match: revision_number=N` checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.network.kinds import stamp
from overcast.network.models import Tag

_CHUNK = 500


async def tags_of(session: AsyncSession, ids: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = await session.execute(
            select(Tag.resource_id, Tag.tag).where(Tag.resource_id.in_(ids[start : start + _CHUNK]))
        )
        for resource_id, tag in rows:
            found.setdefault(resource_id, []).append(tag)
    for tags in found.values():
        tags.sort()
    return found


async def set_tags(session: AsyncSession, resource_id: str, tags: Sequence[str]) -> None:
    await session.execute(delete(Tag).where(Tag.resource_id == resource_id))
    for tag in dict.fromkeys(tags):
        session.add(Tag(resource_id=resource_id, tag=tag))


def fields(row: Any, tags: list[str] | None) -> dict[str, Any]:
    """The standard attributes of `row` as the API shows them."""
    return {
        "id": row.id,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "description": row.description,
        "created_at": stamp(row.created_at),
        "updated_at": stamp(row.updated_at),
        "revision_number": row.revision_number,
        "tags": tags or [],
    }


def bump(row: Any) -> None:
    """Record a change of `row`: a new revision and update time."""
    row.revision_number = (row.revision_number or 0) + 1
    row.updated_at = utcnow()


def check_if_match(header: str | None, row: Any) -> None:
    """412 unless `If-Match: revision_number=N` (when sent) names the row's revision."""
    if not header:
        return
    for part in header.split(","):
        part = part.strip()
        if not part.startswith("revision_number="):
            continue
        try:
            wanted = int(part.split("=", 1)[1])
        except ValueError as exc:
            raise errors.BadRequest(
                f"Invalid If-Match header: {part}", kind="InvalidInput"
            ) from exc
        if wanted != row.revision_number:
            raise errors.PreconditionFailed(
                f"Constrained to {wanted}, but current revision is {row.revision_number}",
                kind="RevisionNumberConstraintFailed",
            )
