"""HTTP preconditions and ranges for object reads, as Swift evaluates them: `If-Match`,
`If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since`; `Range` with one or several
byte ranges (several answer `multipart/byteranges`)."""

from __future__ import annotations

import email.utils
import math
import os
from collections.abc import Mapping

from overcast.common import errors

NOT_MODIFIED = 304


def _etags(value: str) -> list[str]:
    return [v.strip().strip('"') for v in value.split(",") if v.strip()]


def _date(value: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed.timestamp() if parsed is not None else None


def check(headers: Mapping[str, str], etag: str, timestamp: str) -> int | None:
    """None when the read may go ahead; else the status to answer (304 or 412)."""
    get = headers.get
    etag = etag.strip('"')
    modified = math.ceil(float(timestamp))
    if_match = get("if-match")
    if if_match is not None:
        wanted = _etags(if_match)
        if "*" not in wanted and etag not in wanted:
            return 412
    if_none = get("if-none-match")
    if if_none is not None:
        wanted = _etags(if_none)
        if "*" in wanted or etag in wanted:
            return NOT_MODIFIED
    elif (since := get("if-modified-since")) is not None:
        when = _date(since)
        if when is not None and modified <= when:
            return NOT_MODIFIED
    unmodified = get("if-unmodified-since")
    if unmodified is not None:
        when = _date(unmodified)
        if when is not None and modified > when:
            return 412
    return None


def ranges(header: str | None, size: int) -> list[tuple[int, int]] | None:
    """The [start, end) byte ranges asked for; None for no (or an unparseable) Range, which
    means the whole object; 416 when none of them is satisfiable."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        return None
    out: list[tuple[int, int]] = []
    for part in spec.split(","):
        first, dash, last = part.strip().partition("-")
        if not dash:
            return None
        try:
            if first == "":
                if not last:
                    return None
                length = int(last)
                if length == 0:
                    continue
                out.append((max(0, size - length), size))
                continue
            start = int(first)
            end = int(last) + 1 if last else size
        except ValueError:
            return None
        if start < 0 or end <= start and last:
            return None
        if start >= size:
            continue
        out.append((start, min(end, size)))
    if not out:
        raise errors.RangeNotSatisfiable()
    if len(out) > 100:
        return None  # Swift ignores absurd numbers of ranges
    return out


def boundary() -> str:
    return os.urandom(16).hex()
