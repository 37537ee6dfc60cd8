"""Keystone's response furniture and input hygiene for identity's routes: `links` on every
resource and collection, strict JSON bodies read within the size limit whatever their content
type, and no NUL characters anywhere (PostgreSQL refuses them in text).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError, model_validator

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


def not_null(*names: str) -> Any:
    """A model validator for PATCH bodies: these fields may be left out but not set to null."""

    def check(model: Any) -> Any:
        for name in names:
            if name in model.model_fields_set and getattr(model, name) is None:
                raise ValueError(f"'{name}' may not be null")
        return model

    return model_validator(mode="after")(check)


async def parse(request: Request, model: type[Model]) -> Model:
    """Read and validate the body against `model`; every failure is a 400 that names a field."""
    return validated(model, await read_json(request))


def validated(model: type[Model], payload: Any) -> Model:
    """`payload` validated against `model`; every failure is a 400 that names a field."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise errors.BadRequest(faults.validation_message(exc.errors())) from exc
