"""Paging of list pages as Horizon does it: `limit` rows from a `marker` forwards, or, for the
previous page, the rows before a `before` marker, read backwards with the API's own reversed
order (Nova's and Glance's `sort_dir`, Cinder's `sort`, Neutron's `page_reverse`, Swift's
`reverse`). One row more than shown is asked for, so the page knows whether there is another
one in the direction it went, without a second call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

SIZES = (20, 50, 100, 1000)
DEFAULT_SIZE = 50


@dataclass(frozen=True)
class Paging:
    """How one API pages: `forward` sorts it (newest first where it can); `backward` is the
    same order reversed (None: the API cannot read backwards; the page links to the first
    page instead); `flipped`: a backward read comes back in the reversed order (Neutron's
    `page_reverse` puts it right itself)."""

    forward: dict[str, Any] = field(default_factory=dict)
    backward: dict[str, Any] | None = None
    flipped: bool = True


def sorted_by(key: str, style: str = "nova") -> Paging:
    """Newest `key` first, in the API's sort syntax: nova/glance (`sort_key`, `sort_dir`),
    cinder (`sort=key:dir`)."""
    if style == "cinder":
        return Paging({"sort": f"{key}:desc"}, {"sort": f"{key}:asc"})
    return Paging({"sort_key": key, "sort_dir": "desc"}, {"sort_key": key, "sort_dir": "asc"})


NEUTRON = Paging({}, {"page_reverse": "true"}, flipped=False)
SWIFT = Paging({}, {"reverse": "true"})
FORWARD_ONLY = Paging()


@dataclass
class Window:
    """The page asked for: its size and where it starts (`marker`) or ends (`before`)."""

    limit: int
    marker: str | None = None
    before: str | None = None
    # Filled by `cut`: the markers of the next and the previous page.
    next_marker: str | None = None
    prev_marker: str | None = None
    first_page: bool = True

    def params(self, paging: Paging) -> dict[str, Any]:
        """The list call's paging and sorting parameters."""
        if self.before is not None and paging.backward is not None:
            return {"limit": self.limit + 1, "marker": self.before, **paging.backward}
        return {"limit": self.limit + 1, "marker": self.marker, **paging.forward}

    def cut(self, rows: list[Any], paging: Paging, key: Callable[[Any], str]) -> list[Any]:
        """The rows to show, with the markers of the pages around them set."""
        backward = self.before is not None and paging.backward is not None
        more = len(rows) > self.limit
        if backward:
            rows = rows[: self.limit] if paging.flipped else rows[-self.limit :]
            if paging.flipped:
                rows.reverse()
            shown_more_before, shown_more_after = more, True
        else:
            rows = rows[: self.limit]
            shown_more_before, shown_more_after = self.marker is not None, more
        if rows:
            self.next_marker = key(rows[-1]) if shown_more_after else None
            readable = paging.backward is not None
            self.prev_marker = key(rows[0]) if shown_more_before and readable else None
        self.first_page = not shown_more_before
        return rows

    def links(self, keep: dict[str, Any]) -> list[tuple[str, str, str]]:
        """(rel, label, query) of the links to the pages around this one; `keep`: the
        filters the list was asked with."""
        base = {k: v for k, v in keep.items() if v not in (None, "")}
        base["limit"] = self.limit
        found = []
        if self.prev_marker is not None:
            found.append(("prev", "Previous page", urlencode({**base, "before": self.prev_marker})))
        elif not self.first_page:
            found.append(("first", "First page", urlencode(base)))
        if self.next_marker is not None:
            found.append(("next", "Next page", urlencode({**base, "marker": self.next_marker})))
        return found


def window(request: Request, default: int = DEFAULT_SIZE) -> Window:
    q = request.query_params
    try:
        limit = int(q.get("limit", default))
    except ValueError:
        limit = default
    return Window(
        limit if limit in SIZES else default,
        q.get("marker") or None,
        q.get("before") or None,
    )
