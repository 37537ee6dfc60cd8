"""Response header values built from request input. Called by routes that answer with a
`Location` naming what the caller sent (a tag, a name), which may hold any Unicode."""

from __future__ import annotations

from urllib.parse import quote

# Everything a URL may carry as it is; the rest (non-ASCII, spaces) is percent-encoded.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%-._~"


def location(url: str) -> str:
    """`url` as a header can carry it: HTTP headers are Latin-1, a URL is ASCII."""
    return quote(url, safe=_URL_SAFE)
