"""Every service's published OpenAPI description made complete, so that a fuzzer exercises
every operation: each `{parameter}` of a path is declared, and each POST/PUT/PATCH that reads
its body itself (most OpenStack routes parse their JSON by hand, as Nova's schemas demand)
declares a JSON object body. `api_app` in common/service.py installs it on each service.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

_PARAMETER = re.compile(r"{([^}/]+)}")
_BODY_METHODS = ("post", "put", "patch")
_ANY_OBJECT: dict[str, Any] = {
    "required": False,
    "content": {"application/json": {"schema": {"type": "object"}}},
}


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare the path parameters and request bodies `schema` leaves out (in place)."""
    for path, operations in schema.get("paths", {}).items():
        names = _PARAMETER.findall(path)
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            parameters = operation.setdefault("parameters", [])
            declared = {p.get("name") for p in parameters if p.get("in") == "path"}
            for name in names:
                if name not in declared:
                    parameters.append(
                        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                    )
            if method in _BODY_METHODS and "requestBody" not in operation:
                operation["requestBody"] = _ANY_OBJECT
    return schema


def install(app: FastAPI) -> None:
    """Make `app`'s `openapi.json` the completed description (built once, on first request)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
