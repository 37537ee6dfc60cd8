"""The two answers Swift's proxy gives outside `/v1/`: `/healthcheck` (its healthcheck
middleware: "OK" while the proxy serves) and `/crossdomain.xml` (its crossdomain middleware:
the cross-domain policy Flash and Silverlight clients fetch before calling the API). Both are
public, as in Swift."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

# The policy Swift's crossdomain middleware serves when none is configured: any site.
POLICY = '<allow-access-from domain="*" secure="false" />'
DOCUMENT = (
    '<?xml version="1.0"?>\n'
    '<!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/cross-domain-policy.dtd" >\n'
    f"<cross-domain-policy>\n{POLICY}\n</cross-domain-policy>"
)


async def healthcheck(_request: Request) -> Response:
    return Response(b"OK", media_type="text/plain")


async def crossdomain(_request: Request) -> Response:
    return Response(DOCUMENT, media_type="application/xml")
