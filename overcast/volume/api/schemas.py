"""Request checks in Cinder's words: each returns the clean value or raises errors.BadRequest
saying which field is wrong and why, before anything is changed."""

from __future__ import annotations

import re
import uuid
from typing import Any

from overcast.common import errors

_DIGITS = re.compile(r"^[0-9]+$")


def invalid(field: str, value: Any, why: str) -> errors.BadRequest:
    return errors.BadRequest(f"Invalid input for field/attribute {field}. Value: {value}. {why}")


def obj(body: dict[str, Any], key: str) -> dict[str, Any]:
    found = body.get(key)
    if not isinstance(found, dict):
        raise errors.BadRequest(f"Missing required element '{key}' in request body.")
    return found


def size(value: Any, field: str = "size", required: bool = True) -> int | None:
    """A size in GiB: an integer (or a string of digits) of at least 1."""
    if value is None:
        if required:
            raise invalid(field, value, "None is not of type 'integer'")
        return None
    if isinstance(value, bool):
        raise invalid(field, value, f"{value!r} is not of type 'integer', 'string'")
    if isinstance(value, str):
        if not _DIGITS.match(value):
            raise invalid(field, value, f"'{value}' does not match '^[0-9]+$'")
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise invalid(field, value, f"{value!r} is not of type 'integer', 'string'")
    if value < 1:
        raise invalid(field, value, f"{value} is less than the minimum of 1")
    if value > 2**31 - 1:
        raise invalid(field, value, f"{value} is greater than the maximum of 2147483647")
    return value


def text(value: Any, field: str, max_len: int = 255, nullable: bool = True) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise invalid(field, value, f"{value!r} is not of type 'string'")
    if len(value) > max_len:
        raise invalid(field, value, f"'{value[:20]}...' is too long")
    return value


def name(value: Any, field: str = "name") -> str | None:
    found = text(value, field)
    if found is not None and found.strip() != found and not found.strip():
        raise invalid(field, value, "Name must not be blank.")
    return found


def boolean(value: Any, field: str) -> bool:
    """Cinder's boolean: true/false, or their usual string forms."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in (
        "true",
        "false",
        "1",
        "0",
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "t",
        "f",
    ):
        return value.lower() in ("true", "1", "yes", "on", "y", "t")
    raise invalid(field, value, f"{value!r} is not of type 'boolean'")


def uuid_(value: Any, field: str, nullable: bool = True) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise invalid(field, value, f"{value!r} is not a 'uuid'")
    try:
        uuid.UUID(value)
    except ValueError as exc:
        raise invalid(field, value, f"'{value}' is not a 'uuid'") from exc
    return value


def metadata(value: Any, field: str = "metadata") -> dict[str, str]:
    """String keys of 1-255 characters, string values of at most 255."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(field, value, f"{value!r} is not of type 'object'")
    for key, item in value.items():
        if not 0 < len(key) <= 255:
            raise invalid(
                field, value, f"'{key}' does not match any of the regexes: '^[\\s\\S]{{1,255}}$'"
            )
        if not isinstance(item, str):
            raise invalid(field, value, f"{item!r} is not of type 'string'")
        if len(item) > 255:
            raise invalid(field, value, f"'{item[:20]}...' is too long")
    return dict(value)


def choice(value: Any, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise invalid(field, value, f"{value!r} is not one of {list(allowed)}")
    return str(value)


def limit(value: str | None, maximum: int) -> int | None:
    if value is None or value == "":
        return None
    if not _DIGITS.match(value):
        raise errors.BadRequest(f"Invalid input received: limit must be an integer, not {value!r}.")
    return min(int(value), maximum)


_SORT_ALIASES = {"display_name": "name", "display_description": "description"}


def sort(
    params: Any, allowed: tuple[str, ...], default: str = "created_at"
) -> list[tuple[str, str]]:
    """Cinder's `sort=key:dir,key2` or the older `sort_key`/`sort_dir`."""
    keys: list[tuple[str, str]] = []
    if params.get("sort"):
        for item in str(params["sort"]).split(","):
            key, _, direction = item.strip().partition(":")
            keys.append((key, direction or "desc"))
    elif params.get("sort_key"):
        keys.append((params["sort_key"], params.get("sort_dir") or "desc"))
    else:
        keys.append((default, params.get("sort_dir") or "desc"))
    keys = [(_SORT_ALIASES.get(k, k), d) for k, d in keys]
    for key, direction in keys:
        if key not in allowed:
            raise errors.BadRequest(f"Invalid input received: Invalid sort key {key}")
        if direction.lower() not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid input received: Invalid sort dirs {direction}")
    return [(k, d.lower()) for k, d in keys]
