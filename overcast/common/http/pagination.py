"""`limit`/`marker` pagination over SQLAlchemy selects, with OpenStack's `next` links.

Keyset paging: the rows after the marker in the requested sort order, with the primary key as
the last sort key so that the order is total.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from overcast.common import errors

# The largest integer a database column (BIGINT) holds.
MAX_INT = 2**63 - 1


def parse_limit(value: str | int | None, maximum: int | None = None) -> int | None:
    if value is None or value == "":
        return None
    try:
        limit = int(value)
    except (TypeError, ValueError) as exc:
        raise errors.BadRequest(f"limit must be an integer, not {value!r}.") from exc
    if limit < 0:
        raise errors.BadRequest("limit must be zero or more.")
    if limit > MAX_INT:
        raise errors.BadRequest(f"limit must be at most {MAX_INT}.")
    return min(limit, maximum) if maximum else limit


async def page(
    session: AsyncSession,
    stmt: Select[Any],
    model: Any,
    *,
    limit: int | None,
    marker: str | None,
    sort: Sequence[tuple[str, str]] = (),
    id_column: str = "id",
    sortable: Sequence[str] | None = None,
) -> list[Any]:
    """Run `stmt` (a select of `model`) sorted, after `marker`, at most `limit` rows."""
    keys = [(k, d.lower()) for k, d in sort if k != id_column]
    for key, direction in keys:
        if direction not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid sort direction: {direction}.")
        if (sortable is not None and key not in sortable) or not hasattr(model, key):
            raise errors.BadRequest(f"Invalid sort key: {key}.")
    own = [d.lower() for k, d in sort if k == id_column]
    final_dir = keys[0][1] if keys else (own[0] if own else "asc")
    keys.append((id_column, final_dir))
    columns: list[InstrumentedAttribute[Any]] = [getattr(model, k) for k, _ in keys]
    if marker is not None:
        row = (
            await session.execute(select(model).where(getattr(model, id_column) == marker))
        ).scalar_one_or_none()
        if row is None:
            raise errors.BadRequest(f"Marker {marker} could not be found.")
        values = [getattr(row, k) for k, _ in keys]
        clauses = []
        for i, (column, (_key, direction)) in enumerate(zip(columns, keys, strict=True)):
            equal = [columns[j] == values[j] for j in range(i) if values[j] is not None]
            if values[i] is None:
                continue
            beyond = column > values[i] if direction == "asc" else column < values[i]
            clauses.append(and_(*equal, beyond))
        stmt = stmt.where(or_(*clauses))
    stmt = stmt.order_by(
        *(c.asc() if d == "asc" else c.desc() for c, (_k, d) in zip(columns, keys, strict=True))
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.execute(stmt)).scalars().all())


def next_link(
    url: str, params: dict[str, Any], items: Sequence[Any], limit: int | None, id_attr: str = "id"
) -> str | None:
    """The `next` link when a full page came back (there may be more)."""
    if not limit or len(items) < limit:
        return None
    query = {k: v for k, v in params.items() if k != "marker" and v is not None}
    query["marker"] = (
        getattr(items[-1], id_attr) if not isinstance(items[-1], dict) else items[-1][id_attr]
    )
    query["limit"] = limit
    return f"{url}?{urlencode(query, doseq=True)}"
