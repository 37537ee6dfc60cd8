"""Keystone's response furniture: `links` on every resource and collection, and strict JSON
bodies read within the size limit whatever their content type.

Used by the catalog, application credential and auth scope routes.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from overcast.common import errors
from overcast.common.http import faults
from overcast.identity import state

Model = TypeVar("Model", bound=BaseModel)


def v3(request: Request) -> str:
    """The public base of the v3 API, as the catalog gives it."""
    return state.get(request).settings.base_url + "/v3"


def self_link(request: Request, path: str) -> dict[str, str]:
    return {"self": f"{v3(request)}/{path.lstrip('/')}"}


def collection(request: Request) -> dict[str, Any]:
    """The `links` of an unpaged collection: itself, no neighbours."""
    url = f"{v3(request)}{request.url.path[len('/v3') :]}"
    if request.url.query:
        url += f"?{request.url.query}"
    return {"self": url, "previous": None, "next": None}


def reject_nul(request: Request) -> None:
    """Router dependency: no NUL in the path or query (PostgreSQL refuses them in text)."""
    if "\x00" in request.scope.get("path", "") or b"%00" in request.scope.get("query_string", b""):
        raise errors.BadRequest("Invalid input: the URL may not contain NUL characters.")


async def read_json(request: Request) -> Any:
    """The request body parsed as JSON; 413 over the limit even without a JSON content type."""
    limit = state.get(request).settings.max_request_body
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.PayloadTooLarge(f"Request body is larger than {limit} bytes.")
        chunks.append(chunk)
    try:
        payload = json.loads(b"".join(chunks))
    except ValueError as exc:
        raise errors.BadRequest("Malformed request body: the body is not valid JSON.") from exc
    if _has_nul(payload):
        # PostgreSQL cannot store NUL in text; no identity attribute needs one.
        raise errors.BadRequest("Invalid input: strings may not contain NUL characters.")
    return payload


def _has_nul(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if depth > 32:
        raise errors.BadRequest("Invalid input: the body is nested too deeply.")
    if isinstance(value, dict):
        return any(_has_nul(k, depth) or _has_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v, depth + 1) for v in value)
    return False


async def parse(request: Request, model: type[Model]) -> Model:
    """Read and validate the body against `model`; every failure is a 400 that names a field."""
    payload = await read_json(request)
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise errors.BadRequest(faults.validation_message(exc.errors())) from exc
