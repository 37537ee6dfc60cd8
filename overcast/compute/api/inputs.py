"""Checks of request bodies and queries for the resource APIs around servers, worded as Nova's
JSON-schema validation words them ("Invalid input for field/attribute ..."), and the one time
format of their answers."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from overcast.common import errors
from overcast.common.http import pagination


def invalid(field: str, value: Any, detail: str) -> errors.BadRequest:
    return errors.BadRequest(f"Invalid input for field/attribute {field}. Value: {value}. {detail}")


def section(body: dict[str, Any], key: str, allowed: set[str] | None = None) -> dict[str, Any]:
    """The object under `key` of a request body (e.g. `keypair`), with no unknown keys."""
    if key not in body:
        raise errors.BadRequest(
            f"Invalid input for field/attribute {key}. Value: {json.dumps(body)}. "
            f"'{key}' is a required property"
        )
    value = body[key]
    if not isinstance(value, dict):
        raise invalid(key, value, f"{value!r} is not of type 'object'")
    if allowed is not None:
        only(value, allowed)
    return value


def only(obj: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        names = ", ".join(repr(u) for u in unknown)
        verb = "was" if len(unknown) == 1 else "were"
        raise errors.BadRequest(
            f"Additional properties are not allowed ({names} {verb} unexpected)"
        )


def required(obj: dict[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise invalid(where, json.dumps(obj), f"'{key}' is a required property")
    return obj[key]


def string(value: Any, field: str, *, min_len: int = 1, max_len: int = 255) -> str:
    if not isinstance(value, str):
        raise invalid(field, value, f"{value!r} is not of type 'string'")
    if len(value) < min_len:
        raise invalid(field, value, f"{value!r} is too short")
    if len(value) > max_len:
        raise invalid(field, value, f"{value!r} is too long")
    return value


def name(value: Any, field: str = "name") -> str:
    """Nova's `name` type: 1-255 characters, not only white space, no edge white space."""
    text = string(value, field)
    if text.strip() != text or not text.strip():
        raise invalid(field, value, f"{value!r} does not match the name pattern")
    return text


def integer(
    value: Any, field: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """An integer, or a string of one, as Nova's schemas accept them."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value)
    if number is None:
        raise invalid(field, value, f"{value!r} is not of type 'integer', 'string'")
    if minimum is not None and number < minimum:
        raise invalid(field, value, f"{value} is less than the minimum of {minimum}")
    if maximum is not None and number > maximum:
        raise invalid(field, value, f"{value} is greater than the maximum of {maximum}")
    return number


def boolean(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on", "t", "y"):
        return True
    if text in ("false", "0", "no", "off", "f", "n"):
        return False
    raise invalid(field, value, f"{value!r} is not of type 'boolean'")


def query_int(value: str | None, field: str, *, minimum: int = 0) -> int | None:
    if value is None or value == "":
        return None
    return integer(value, field, minimum=minimum, maximum=pagination.MAX_INT)


def isotime(value: dt.datetime | None) -> str | None:
    """Times as these Nova APIs write them: naive UTC with microseconds."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
