"""Listing volumes and snapshots with Cinder's filters: exact fields, `name~` partial matches,
metadata as JSON, `created_at`/`updated_at` with operators (3.60), `all_tenants` for admins;
sorting with `sort=key:dir` and `limit`/`marker` paging (or `offset`)."""

from __future__ import annotations

import ast
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.http import pagination

_OPS = {
    "gt": "__gt__",
    "gte": "__ge__",
    "lt": "__lt__",
    "lte": "__le__",
    "eq": "__eq__",
    "neq": "__ne__",
}
_BOOLS = {"true": True, "false": False, "1": True, "0": False}


def parse_time(value: str) -> list[tuple[str, dt.datetime]]:
    """`gt:2024-01-01T00:00:00,lt:...` into (operator, time) pairs."""
    found = []
    for part in value.split(","):
        op, sep, when = part.partition(":")
        if not sep or op not in _OPS:
            op, when = "eq", part
        try:
            moment = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError as exc:
            raise errors.BadRequest(f"Invalid input received: invalid time {when!r}.") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        found.append((op, moment))
    return found


def apply(
    stmt: Select[Any],
    model: Any,
    params: Mapping[str, str],
    fields: Mapping[str, str],
    *,
    time_filters: bool,
    like: bool,
) -> tuple[Select[Any], dict[str, str] | None]:
    """`stmt` narrowed by the filters in `params` (`fields`: query name -> column). Metadata
    filters are returned to be applied in Python (JSON columns differ between databases)."""
    meta: dict[str, str] | None = None
    for key, value in params.items():
        exact = key.rstrip("~")
        partial = key.endswith("~") and like
        if exact == "metadata":
            try:
                meta = _mapping(value)
            except (ValueError, TypeError, SyntaxError) as exc:
                raise errors.BadRequest(
                    f"Invalid input received: invalid metadata filter {value!r}"
                ) from exc
            continue
        if exact in ("created_at", "updated_at") and time_filters:
            column = getattr(model, exact)
            for op, moment in parse_time(value):
                stmt = stmt.where(getattr(column, _OPS[op])(moment))
            continue
        column_name = fields.get(exact)
        if column_name is None:
            continue  # Cinder ignores filters it does not know
        column = getattr(model, column_name)
        if column_name == "bootable":
            if value.lower() not in _BOOLS:
                raise errors.BadRequest(f"Invalid input received: bootable={value!r}")
            stmt = stmt.where(column.is_(_BOOLS[value.lower()]))
        elif partial:
            stmt = stmt.where(column.contains(value, autoescape=True))
        elif column_name == "size":
            if not value.isdigit():
                raise errors.BadRequest(f"Invalid input received: size={value!r}")
            stmt = stmt.where(column == int(value))
        else:
            stmt = stmt.where(column == value)
    return stmt, meta


def _mapping(value: str) -> dict[str, str]:
    """A metadata filter: JSON, a Python-style dict (as Cinder's clients send it), or k=v."""
    if not value.startswith("{"):
        return dict([value.split("=", 1)])
    try:
        found = json.loads(value)
    except ValueError:
        found = ast.literal_eval(value)
    if not isinstance(found, dict):
        raise ValueError("not a mapping")
    return {str(k): str(v) for k, v in found.items()}


def metadata_matches(row_meta: Mapping[str, Any] | None, wanted: Mapping[str, str] | None) -> bool:
    if not wanted:
        return True
    have = row_meta or {}
    return all(str(have.get(k)) == str(v) for k, v in wanted.items())


async def page(
    session: AsyncSession,
    stmt: Select[Any],
    model: Any,
    params: Mapping[str, str],
    sort: Sequence[tuple[str, str]],
    limit: int | None,
    meta: Mapping[str, str] | None,
    meta_attr: str = "metadata_",
) -> list[Any]:
    """One page of rows; with metadata filters the page is cut after filtering."""
    marker = params.get("marker")
    offset = params.get("offset")
    if marker and await session.get(model, marker) is None:
        raise errors.NotFound(f"Marker {marker} could not be found.")
    if meta:
        rows = await pagination.page(session, stmt, model, limit=None, marker=marker, sort=sort)
        rows = [r for r in rows if metadata_matches(getattr(r, meta_attr), meta)]
        return rows[:limit] if limit is not None else rows
    if offset:
        if not offset.isdigit():
            raise errors.BadRequest(f"Invalid input received: offset={offset!r}")
        stmt = stmt.offset(int(offset))
    return await pagination.page(session, stmt, model, limit=limit, marker=marker, sort=sort)


async def count(session: AsyncSession, stmt: Select[Any]) -> int:
    found = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return int(found or 0)
