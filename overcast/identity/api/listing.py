"""List queries as Keystone answers them: boolean flags, name filters (`name__contains`...),
an optional `limit` with `marker`, `truncated` and a `next` link, and `links.self`.

Used by the domain, project, user, group and role routes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from sqlalchemy import Select, func
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.http import pagination
from overcast.identity.api import links

FALSE = ("0", "false", "no", "off", "n", "f")
_OPS: dict[str, Callable[[Any, str], Any]] = {
    "equals": lambda c, v: c == v,
    "iequals": lambda c, v: func.lower(c) == v.lower(),
    "contains": lambda c, v: c.contains(v, autoescape=True),
    "icontains": lambda c, v: func.lower(c).contains(v.lower(), autoescape=True),
    "startswith": lambda c, v: c.startswith(v, autoescape=True),
    "istartswith": lambda c, v: func.lower(c).startswith(v.lower(), autoescape=True),
    "endswith": lambda c, v: c.endswith(v, autoescape=True),
    "iendswith": lambda c, v: func.lower(c).endswith(v.lower(), autoescape=True),
}
MAX_LIMIT = 10000


def flag(value: str | None) -> bool:
    """A query flag: present means true (`?effective`), unless it says false (`=0`, `=false`)."""
    return value is not None and value.strip().lower() not in FALSE


def where(stmt: Select[Any], model: Any, params: Mapping[str, str], names: tuple[str, ...]) -> Any:
    """`stmt` filtered by the exact and `__op` query filters on the string columns `names`."""
    for key, value in params.items():
        column, _, op = key.partition("__")
        if column not in names:
            continue
        if op and op not in _OPS:
            raise errors.BadRequest(f"Invalid filter: {key}.")
        stmt = stmt.where(_OPS[op or "equals"](getattr(model, column), value))
    return stmt


def enabled(stmt: Select[Any], model: Any, params: Mapping[str, str]) -> Any:
    if "enabled" in params:
        stmt = stmt.where(model.enabled.is_(flag(params["enabled"] or "true")))
    return stmt


async def page(
    request: Request,
    session: AsyncSession,
    stmt: Select[Any],
    model: Any,
    keep: Callable[[Any], bool] | None = None,
) -> tuple[list[Any], dict[str, Any]]:
    """The rows of `stmt` by name, the page asked for, and the collection's extra keys
    (`links`, and `truncated` when `limit` cut the list)."""
    params = request.query_params
    limit = pagination.parse_limit(params.get("limit"), MAX_LIMIT)
    marker = params.get("marker") or None
    if keep is None:
        rows = await pagination.page(
            session,
            stmt,
            model,
            limit=None if limit is None else limit + 1,
            marker=marker,
            sort=[("name", "asc")],
        )
    else:
        everything = (await session.execute(stmt)).scalars().all()
        rows = sorted((r for r in everything if keep(r)), key=lambda r: (r.name, r.id))
        if marker is not None:
            ids = [r.id for r in rows]
            if marker not in ids:
                raise errors.BadRequest(f"Marker {marker} could not be found.")
            rows = rows[ids.index(marker) + 1 :]
        if limit is not None:
            rows = rows[: limit + 1]
    return finish(request, rows, limit)


def finish(
    request: Request, rows: list[Any], limit: int | None
) -> tuple[list[Any], dict[str, Any]]:
    extra: dict[str, Any] = {"links": links.collection(request)}
    if limit is not None and len(rows) > limit:
        rows = rows[:limit]
        query = {k: v for k, v in request.query_params.items() if k != "marker"}
        query["marker"] = rows[-1].id if rows else ""
        path = request.url.path.removeprefix("/v3")
        extra["links"]["next"] = f"{links.v3(request)}{path}?{urlencode(query)}"
        extra["truncated"] = True
    return rows, extra
