"""Neutron's list semantics for every resource: filters by attribute (repeated values match
any), tag filters, `fields`, `sort_key`/`sort_dir`, `limit`/`marker`/`page_reverse`, and the
`<collection>_links` that clients page with."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Boolean, Integer, and_, exists, not_, or_, select
from sqlalchemy.sql import ColumnElement

from overcast.common import errors
from overcast.common.http import pagination
from overcast.network import attributes
from overcast.network.attributes import Query
from overcast.network.kinds import Kind, Op
from overcast.network.models import Tag

TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")
_PAGING = ("limit", "marker", "page_reverse", "sort_key", "sort_dir", "fields")


def parse_query(params: list[tuple[str, str]]) -> Query:
    q = Query()
    keys: list[str] = []
    dirs: list[str] = []
    for key, value in params:
        if key == "fields":
            q.fields.extend(v for v in value.split(",") if v)
        elif key == "sort_key":
            keys.append(value)
        elif key == "sort_dir":
            dirs.append(value.lower())
        elif key == "limit":
            q.limit = pagination.parse_limit(value)
        elif key == "marker":
            q.marker = value
        elif key == "page_reverse":
            q.page_reverse = attributes.boolean(value)
        elif key in TAG_FILTERS:
            q.tags.setdefault(key, []).extend(t for t in value.split(",") if t)
        else:
            q.filters.setdefault("project_id" if key == "tenant_id" else key, []).append(value)
    if dirs and len(dirs) != len(keys):
        raise errors.BadRequest(
            "The number of sort_keys and sort_dirs must be same", kind="HTTPBadRequest"
        )
    for direction in dirs:
        if direction not in ("asc", "desc"):
            raise errors.BadRequest(
                f"{direction} is invalid value for sort_dir, valid value is 'asc' and 'desc'",
                kind="HTTPBadRequest",
            )
    q.sort = list(zip(keys, dirs or ["asc"] * len(keys), strict=True))
    return q


def _clause(op: Op, kind: Kind, key: str, values: list[str]) -> ColumnElement[bool]:
    special = kind.filter_clause(op, key, values)
    if special is not None:
        return special
    spec = kind.attrs.get(key)
    column_name = (spec.column if spec else None) or key
    column = getattr(kind.model, column_name, None)
    if spec is None or not spec.filter or column is None:
        raise errors.BadRequest(
            f"[{key}] is invalid attribute for filtering", kind="HTTPBadRequest"
        )
    kind_of = getattr(column, "type", None)
    converted: list[Any] = []
    for value in values:
        if spec.filter_convert is not None:
            converted.append(spec.filter_convert(value))
        elif isinstance(kind_of, Boolean):
            converted.append(attributes.boolean(value))
        elif isinstance(kind_of, Integer):
            try:
                converted.append(int(value))
            except ValueError:
                converted.append(None)
        elif value == "" and column.nullable:
            converted.append(None)
        else:
            converted.append(value)
    nulls = [v for v in converted if v is None]
    rest = [v for v in converted if v is not None]
    parts = ([column.in_(rest)] if rest else []) + ([column.is_(None)] if nulls else [])
    return or_(*parts) if len(parts) > 1 else parts[0]


def _tag_clause(kind: Kind, key: str, tags: list[str]) -> ColumnElement[bool]:
    def has(tag: str) -> ColumnElement[bool]:
        return exists().where(Tag.resource_id == kind.model.id, Tag.tag == tag)

    if key == "tags":
        return and_(*(has(t) for t in tags))
    if key == "tags-any":
        return or_(*(has(t) for t in tags))
    if key == "not-tags":
        return not_(and_(*(has(t) for t in tags)))
    return not_(or_(*(has(t) for t in tags)))


async def run(
    op: Op, kind: Kind, q: Query, url: str, params: list[tuple[str, str]]
) -> dict[str, Any]:
    """The body of a list request: `{collection: [...], collection_links: [...]}`."""
    stmt = select(kind.model)
    visible = kind.visible(op.ctx)
    if visible is not None:
        stmt = stmt.where(visible)
    for key, values in q.filters.items():
        stmt = stmt.where(_clause(op, kind, key, values))
    for key, tags in q.tags.items():
        if tags:
            stmt = stmt.where(_tag_clause(kind, key, tags))
    sort = []
    for key, direction in q.sort:
        spec = kind.attrs.get(key)
        column = (spec.column if spec else None) or key
        if spec is None or not spec.sort or not hasattr(kind.model, column):
            raise errors.BadRequest(
                f"{key} is invalid attribute for sort_key", kind="HTTPBadRequest"
            )
        sort.append((column, direction))
    if q.page_reverse:
        sort = [(k, "desc" if d == "asc" else "asc") for k, d in sort] or [("id", "desc")]
    limit = q.limit
    maximum = op.st.settings.network.pagination_max_limit
    if maximum > 0:
        limit = min(limit or maximum, maximum)
    if limit == 0:
        limit = None
    rows = await pagination.page(
        op.session, stmt, kind.model, limit=limit, marker=q.marker, sort=sort
    )
    if q.page_reverse:
        rows.reverse()
    views = await kind.views(op, rows)
    views = [shape(op, kind, v, q.fields) for v in views]
    body: dict[str, Any] = {kind.collection: views}
    if limit:
        body[f"{kind.collection}_links"] = _links(url, params, rows, limit, q)
    return body


def _links(
    url: str, params: list[tuple[str, str]], rows: list[Any], limit: int, q: Query
) -> list[dict[str, str]]:
    """`next` after a full page; `previous` when this page started at a marker."""
    kept = [(k, v) for k, v in params if k not in ("marker", "limit", "page_reverse")]
    links = []
    if rows and len(rows) >= limit:
        nxt = [*kept, ("limit", str(limit)), ("marker", rows[-1].id)]
        links.append({"rel": "next", "href": f"{url}?{urlencode(nxt)}"})
    if rows and q.marker:
        prev = [*kept, ("limit", str(limit)), ("marker", rows[0].id), ("page_reverse", "True")]
        links.append({"rel": "previous", "href": f"{url}?{urlencode(prev)}"})
    return links


def shape(op: Op, kind: Kind, view: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """`view` without the attributes the caller may not see, cut to `fields` when asked."""
    if kind.guarded and not op.ctx.is_admin:
        target = kind.target(view)
        for attr in kind.guarded:
            if attr in view and not op.allowed(f"get_{kind.name}:{attr}", target):
                del view[attr]
    if fields:
        return {k: v for k, v in view.items() if k in fields}
    return view
