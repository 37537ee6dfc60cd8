"""Checks a request body against one of our schemas, with jsonschema's wording as Glance shows it.

Only the keywords our schemas use are understood: type, enum, maxLength, minLength, pattern,
items, properties and additionalProperties.
"""

from __future__ import annotations

import re
from typing import Any

from overcast.common import errors

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def _is(value: Any, kind: str) -> bool:
    if kind == "integer" and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[kind])


def problem(schema: dict[str, Any], value: Any) -> str | None:
    """What is wrong with `value` under `schema` (one property's schema), or None."""
    kinds = schema.get("type")
    if kinds is not None:
        names = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_is(value, k) for k in names):
            return f"{value!r} is not of type {', '.join(repr(k) for k in names)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{value!r} is not one of {schema['enum']!r}"
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"{value!r} is too long"
        if "minLength" in schema and len(value) < schema["minLength"]:
            return f"{value!r} is too short"
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return f"{value!r} does not match {schema['pattern']!r}"
    if isinstance(value, list) and "items" in schema:
        for item in value:
            found = problem(schema["items"], item)
            if found:
                return found
    if isinstance(value, dict) and "properties" in schema:
        return object_problem(schema, value)
    return None


def object_problem(schema: dict[str, Any], value: dict[str, Any]) -> str | None:
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for required in schema.get("required", ()):
        if required not in value:
            return f"{required!r} is a required property"
    for key, item in value.items():
        if key in properties:
            found = problem(properties[key], item)
        elif isinstance(extra, dict):
            found = problem(extra, item)
        elif extra is False:
            found = f"Additional properties are not allowed ({key!r} was unexpected)"
        else:
            found = None
        if found:
            return found
    return None


def validate(schema: dict[str, Any], value: Any) -> None:
    """Raise BadRequest in Glance's words unless `value` matches `schema`."""
    found = (
        object_problem(schema, value)
        if isinstance(value, dict)
        else f"{value!r} is not of type 'object'"
    )
    if found:
        raise errors.BadRequest(
            f"Provided object does not match schema '{schema['name']}': {found}"
        )
