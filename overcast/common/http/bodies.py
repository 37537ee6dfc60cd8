"""JSON request and response bodies as the OpenStack APIs read and write them."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from overcast.common import errors


async def json_object(request: Request) -> dict[str, Any]:
    """The request's JSON object; errors.BadRequest when it is missing or malformed."""
    raw = await request.body()
    if not raw.strip():
        raise errors.BadRequest("The request body is missing or empty.")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise errors.BadRequest("Malformed request body") from exc
    if not isinstance(body, dict):
        raise errors.BadRequest("The request body must be a JSON object.")
    return body


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """`body` as compact JSON (cheaper than FastAPI's encoder for plain dicts)."""
    return Response(
        json.dumps(body, separators=(",", ":"), check_circular=False),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )
