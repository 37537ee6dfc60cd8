"""The one lookup of a project's resource by id that every block storage module makes: the
row if it exists, is not deleted and is the caller's (any project's for admins), else the
resource's own 404. Called by `volumes`, `snapshots`, `backups`, `attachments`, `groups`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors

Row = TypeVar("Row")


async def owned(
    session: AsyncSession,
    model: type[Row],
    resource_id: str,
    project_id: str | None,
    admin: bool,
    missing: Callable[[str], errors.NotFound],
) -> Row:
    found: Any = await session.get(model, resource_id)
    if found is None or found.deleted or (not admin and found.project_id != project_id):
        raise missing(resource_id)
    return found  # type: ignore[no-any-return]
