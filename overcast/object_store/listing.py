"""Account and container listings: `prefix`, `delimiter` (with `subdir` entries), `path`,
`marker`, `end_marker`, `limit`, `reverse`, in Swift's byte order; and their JSON, XML and
plain-text renderings. Called by the API's account and container GETs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.object_store import constraints, models

TOP = "\U0010ffff"  # sorts after every name that starts with a given prefix


@dataclass(frozen=True)
class Query:
    prefix: str = ""
    delimiter: str = ""
    marker: str = ""
    end_marker: str = ""
    limit: int = 10000
    reverse: bool = False

    @classmethod
    def from_params(cls, params: dict[str, str], max_limit: int) -> Query:
        limit_raw = params.get("limit", str(max_limit))
        try:
            limit = int(limit_raw)
        except ValueError:
            raise errors.PreconditionFailed("Value of limit must be an integer") from None
        if limit < 0 or limit > max_limit:
            raise errors.PreconditionFailed(f"Maximum limit is {max_limit}")
        delimiter = params.get("delimiter", "")
        if len(delimiter) > 1:
            raise errors.PreconditionFailed("Bad delimiter")
        prefix = params.get("prefix", "")
        if "path" in params:  # Swift's path: the direct children of a pseudo-directory
            path = params["path"].strip("/")
            prefix, delimiter = (path + "/" if path else ""), "/"
        for value in (prefix, delimiter, params.get("marker", ""), params.get("end_marker", "")):
            if "\x00" in value:
                raise errors.PreconditionFailed("Invalid UTF8 or contains NULL")
        reverse = params.get("reverse", "").lower() in ("1", "true", "yes", "on", "t", "y")
        return cls(
            prefix,
            delimiter,
            params.get("marker", ""),
            params.get("end_marker", ""),
            limit,
            reverse,
        )


Page = Callable[[AsyncSession, str, str, bool, int], Awaitable[list[Any]]]


async def walk(session: AsyncSession, q: Query, page: Page) -> list[Any | str]:
    """The rows (and subdir strings) of one listing. `page(session, low, high, reverse, n)`
    returns up to n rows with low < name < high in order."""
    out: list[Any] = []
    low = max(q.marker if not q.reverse else "", q.end_marker if q.reverse else "", "")
    high = min(
        x for x in (q.end_marker if not q.reverse else "", q.marker if q.reverse else "", TOP) if x
    )
    if q.prefix:
        low = max(low, _before(q.prefix))
        high = min(high, q.prefix + TOP)
    while len(out) < q.limit and low < high:
        wanted = q.limit - len(out)
        rows = await page(session, low, high, q.reverse, wanted)
        if not rows:
            break
        for row in rows:
            name = row.name
            cut = name.find(q.delimiter, len(q.prefix)) if q.delimiter else -1
            if cut >= 0:
                sub = name[: cut + 1]
                out.append(sub)
                if q.reverse:
                    high = sub
                else:
                    low = name[:cut] + chr(ord(q.delimiter) + 1)
                    low = _before(low)
                break
            out.append(row)
            if q.reverse:
                high = name
            else:
                low = name
            if len(out) >= q.limit:
                break
        else:
            if len(rows) < wanted:
                break
    return out


def _before(name: str) -> str:
    """A strict lower bound that every name starting with `name` exceeds."""
    return name[:-1] + chr(ord(name[-1]) - 1) + TOP if name else ""


def objects_page(container_id: int) -> Page:
    async def page(session: AsyncSession, low: str, high: str, reverse: bool, n: int) -> list[Any]:
        col = models.Object.name
        stmt = (
            select(models.Object)
            .where(models.Object.container_id == container_id, models.Object.deleted.is_(False))
            .where(col > low, col < high)
            .order_by(col.desc() if reverse else col)
            .limit(n)
        )
        return list((await session.execute(stmt)).scalars())

    return page


def containers_page(account: str) -> Page:
    async def page(session: AsyncSession, low: str, high: str, reverse: bool, n: int) -> list[Any]:
        col = models.Container.name
        stmt = (
            select(models.Container)
            .where(models.Container.account == account, col > low, col < high)
            .order_by(col.desc() if reverse else col)
            .limit(n)
        )
        return list((await session.execute(stmt)).scalars())

    return page


# -- renderings -------------------------------------------------------------------------------


def last_modified(ts: str) -> str:
    return dt.datetime.fromtimestamp(float(ts), dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def object_entry(row: Any) -> dict[str, Any]:
    content_type, symlink, path = row.content_type.partition(";symlink_path=")
    entry = {
        "name": row.name,
        "hash": row.etag,
        "bytes": row.size,
        "content_type": content_type,
        "last_modified": last_modified(row.ts),
    }
    if symlink:
        entry["symlink_path"] = unquote(path)
    return entry


def container_entry(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "count": row.object_count,
        "bytes": row.bytes_used,
        "last_modified": last_modified(row.put_ts),
    }


def choose_format(params: dict[str, str], accept: str) -> str:
    fmt = params.get("format", "").lower()
    if fmt in ("json", "xml", "plain"):
        return fmt
    if fmt:
        return "plain"
    accept = accept.lower()
    if "application/json" in accept:
        return "json"
    if "application/xml" in accept or "text/xml" in accept:
        return "xml"
    return "plain"


MEDIA = {
    "json": "application/json; charset=utf-8",
    "xml": "application/xml; charset=utf-8",
    "plain": "text/plain; charset=utf-8",
}


def render(
    fmt: str, kind: str, owner: str, items: list[Any], entry: Callable[[Any], dict[str, Any]]
) -> bytes:
    """One listing in `fmt`; `kind` is "container" (of objects) or "account" (of containers)."""
    if fmt == "json":
        data = [{"subdir": i} if isinstance(i, str) else entry(i) for i in items]
        return json.dumps(data).encode()
    if fmt == "plain":
        return "".join((i if isinstance(i, str) else i.name) + "\n" for i in items).encode()
    child = "object" if kind == "container" else "container"
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{kind} name={quoteattr(owner)}>']
    for i in items:
        if isinstance(i, str):
            parts.append(f"<subdir name={quoteattr(i)}><name>{escape(i)}</name></subdir>")
            continue
        fields = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in entry(i).items())
        parts.append(f"<{child}>{fields}</{child}>")
    parts.append(f"</{kind}>")
    return "".join(parts).encode()


MAX_LIMIT = constraints.CONTAINER_LISTING_LIMIT
