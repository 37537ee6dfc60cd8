"""GET /v2/images: Glance's filters, sorting and `limit`/`marker` paging, independent of HTTP.

Filters: name, status, visibility, member_status, owner, container_format, disk_format, id,
size_min/size_max, protected, os_hidden, tag (repeatable), created_at/updated_at with the
operators gt/gte/lt/lte/eq/neq (Glance v2's replacement for `changes-since`), `in:a,b` lists,
and any other key as an additional-property equality filter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, select

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.common.http import pagination
from overcast.image import access, models, view
from overcast.image.state import ImageState

Image = models.Image
SORT_KEYS = (
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "id",
    "created_at",
    "updated_at",
)
COLUMNS = ("name", "status", "owner", "container_format", "disk_format", "id", "visibility")
TIME_OPS = {
    "gt": "__gt__",
    "gte": "__ge__",
    "lt": "__lt__",
    "lte": "__le__",
    "eq": "__eq__",
    "neq": "__ne__",
}


@dataclass
class Query:
    filters: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    sort: list[tuple[str, str]] = field(default_factory=list)
    limit: int | None = None
    marker: str | None = None
    member_status: str = "accepted"


def sorting(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Glance's two sort syntaxes: `sort=name:asc,size` or `sort_key=..&sort_dir=..`."""
    new = [v for k, v in params if k == "sort"]
    keys = [v.strip() for k, v in params if k == "sort_key"]
    dirs = [v.strip() for k, v in params if k == "sort_dir"]
    if new and (keys or dirs):
        raise errors.BadRequest("Old and new sorting syntax cannot be combined")
    pairs: list[tuple[str, str]] = []
    for item in ",".join(new).split(",") if new else []:
        key, _sep, direction = item.partition(":")
        pairs.append((key.strip(), direction.strip() or "desc"))
    if not new:
        if len(dirs) > 1 and len(dirs) != len(keys):
            raise errors.BadRequest("Number of sort dirs does not match the number of sort keys")
        keys = keys or ["created_at"]
        pairs = [
            (k, dirs[i] if len(dirs) > 1 else (dirs or ["desc"])[0]) for i, k in enumerate(keys)
        ]
    for key, direction in pairs:
        if key not in SORT_KEYS:
            raise errors.BadRequest(
                f"Invalid sort key: {key}. It must be one of the following: {', '.join(SORT_KEYS)}."
            )
        if direction not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid sort direction: {direction}")
    return pairs


def _boolean(name: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise errors.BadRequest(
            f"Invalid value '{value}' for '{name}' filter. Valid values are 'true' or 'false'."
        )
    return value.lower() == "true"


def _time(name: str, value: str) -> ColumnElement[bool]:
    op, sep, raw = value.partition(":")
    if not sep or op not in TIME_OPS:
        op, raw = "eq", value
    try:
        when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise errors.BadRequest(f"Invalid time format for {name}: {raw}") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return getattr(getattr(Image, name), TIME_OPS[op])(when)  # type: ignore[no-any-return]


def _size(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise errors.BadRequest(f"Invalid value for {name}: {value} is not an integer.") from exc


def conditions(q: Query) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    for name, value in q.filters.items():
        if name == "changes-since":
            raise errors.BadRequest('The "changes-since" filter is no longer available on v2.')
        if name in ("created_at", "updated_at"):
            out.append(_time(name, value))
        elif name in ("size_min", "size_max"):
            size = _size(name, value)
            out.append(Image.size >= size if name == "size_min" else Image.size <= size)
        elif name in ("protected", "os_hidden"):
            out.append(getattr(Image, name).is_(_boolean(name, value)))
        elif name in COLUMNS:
            column = getattr(Image, name)
            if value.startswith("in:"):
                out.append(column.in_([v.strip() for v in value[3:].split(",")]))
            elif name != "visibility":
                out.append(column == value)
        else:
            prop = models.ImageProperty
            out.append(
                exists(
                    select(prop.image_id).where(
                        prop.image_id == Image.id, prop.name == name, prop.value == value
                    )
                )
            )
    for tag in q.tags:
        tag_row = models.ImageTag
        out.append(
            exists(
                select(tag_row.image_id).where(tag_row.image_id == Image.id, tag_row.value == tag)
            )
        )
    if "os_hidden" not in q.filters:
        out.append(Image.os_hidden.is_(False))
    return out


async def run(
    st: ImageState, ctx: RequestContext, q: Query
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of images and the marker of the next page (None on the last)."""
    st.policy.enforce("get_images", ctx, {"project_id": ctx.project_id})
    visibility = q.filters.get("visibility")
    where = [Image.deleted.is_(False), access.listed(ctx, visibility, q.member_status)]
    where += conditions(q)
    limit = min(
        q.limit if q.limit is not None else st.settings.image.limit_param_default,
        st.settings.image.api_limit_max,
    )
    async with st.db.reader() as session:
        if q.marker is not None:
            # An image the caller may not read answers as one that does not exist, so that
            # no one learns which ids are taken.
            marker = await session.scalar(
                select(Image.id).where(
                    Image.id == q.marker, Image.deleted.is_(False), access.readable(ctx)
                )
            )
            if marker is None:
                raise errors.BadRequest(f"Invalid marker. Image {q.marker} could not be found.")
        rows = await pagination.page(
            session,
            select(Image).where(and_(*where)),
            Image,
            limit=limit,
            marker=q.marker,
            sort=q.sort or [("created_at", "desc")],
            sortable=SORT_KEYS,
        )
        images = [view.image(r) for r in rows]
    following = rows[-1].id if rows and len(rows) == limit else None
    return images, following
