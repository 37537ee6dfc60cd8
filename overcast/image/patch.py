"""JSON-patch documents for image updates, parsed into typed `Change` commands as Glance does.

Two media types: `application/openstack-images-v2.1-json-patch` (RFC 6902 style,
`{"op": "replace", "path": "/name", "value": ...}`) and the older v2.0 one
(`{"replace": "/name", "value": ...}`). Only add, remove and replace exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from overcast.common import errors
from overcast.image import validation

V21 = "application/openstack-images-v2.1-json-patch"
V20 = "application/openstack-images-v2.0-json-patch"
MEDIA_TYPES = (V20, V21)
OPERATIONS = ("add", "remove", "replace")
READ_ONLY = (
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "size",
    "virtual_size",
    "direct_url",
    "self",
    "file",
    "schema",
    "id",
    "os_hash_algo",
    "os_hash_value",
    "stores",
)
RESERVED = ("location", "deleted", "deleted_at")
RESERVED_PREFIX = "os_glance"
_NO = object()


@dataclass(frozen=True)
class Change:
    op: str  # add | remove | replace
    name: str  # the attribute or property the path names
    value: Any = None
    strict: bool = False  # v2.0: `add` of something present is a conflict
    position: str | None = None  # for /locations/N


def parse(media_type: str, body: Any, schema: dict[str, Any]) -> list[Change]:
    """The changes a patch document asks for; BadRequest/Forbidden if it is not acceptable."""
    if media_type not in MEDIA_TYPES:
        raise errors.UnsupportedMediaType(f"Unsupported media type {media_type or 'none'}.")
    if not isinstance(body, list):
        raise errors.BadRequest("Request body must be a JSON array of operation objects.")
    return [_change(raw, media_type == V20, schema) for raw in body]


def _change(raw: Any, draft4: bool, schema: dict[str, Any]) -> Change:
    if not isinstance(raw, dict):
        raise errors.BadRequest("Operations must be JSON objects.")
    op, pointer = _op_and_path(raw, draft4)
    path = _decode(pointer)
    depth = 2 if path[0] == "locations" and op in ("add", "remove") else 1
    if len(path) != depth:
        raise errors.BadRequest(f"Invalid JSON pointer for this resource: '/{'/'.join(path)}'")
    value = raw.get("value", _NO)
    if op != "remove" and value is _NO:
        raise errors.BadRequest(f'Operation "{op}" requires a member named "value".')
    name = path[0]
    if name in READ_ONLY:
        raise errors.Forbidden(f"Attribute '{name}' is read-only.")
    if name in RESERVED or name.startswith(RESERVED_PREFIX):
        raise errors.Forbidden(f"Attribute '{name}' is reserved.")
    if op != "remove" and name != "locations":
        validation.validate(schema, {name: value})
    position = path[1] if depth == 2 else None
    return Change(op, name, None if value is _NO else value, draft4, position)


def _op_and_path(raw: dict[str, Any], draft4: bool) -> tuple[str, Any]:
    available = ", ".join(OPERATIONS)
    if draft4:
        found = [k for k in OPERATIONS if k in raw]
        if len(found) != 1:
            count = "exactly" if not found else "only"
            raise errors.BadRequest(
                f'Operation objects must contain {count} one member named "add", "remove", '
                'or "replace".'
            )
        return found[0], raw[found[0]]
    op = raw.get("op")
    if op is None:
        raise errors.BadRequest(
            f"Unable to find `op` in JSON Schema change. It must be one of the following: "
            f"{available}."
        )
    if op not in OPERATIONS:
        raise errors.BadRequest(
            f"Invalid operation: `{op}`. It must be one of the following: {available}."
        )
    if "path" not in raw:
        raise errors.BadRequest("Unable to find 'path' in JSON Schema change")
    return str(op), raw["path"]


def _decode(pointer: Any) -> list[str]:
    """A JSON pointer in the limited form Glance accepts, split into its parts."""
    if not isinstance(pointer, str):
        raise errors.BadRequest(f"Pointer `{pointer}` is not a string.")
    if not pointer.startswith("/"):
        raise errors.BadRequest(f'Pointer `{pointer}` does not start with "/".')
    if re.search(r"/\s*?/", pointer[1:]):
        raise errors.BadRequest(f'Pointer `{pointer}` contains adjacent "/".')
    if len(pointer) > 1 and pointer.endswith("/"):
        raise errors.BadRequest(f'Pointer `{pointer}` end with "/".')
    if pointer[1:].strip() in ("", "/"):
        raise errors.BadRequest(f"Pointer `{pointer}` does not contains valid token.")
    if re.search("~[^01]", pointer) or pointer.endswith("~"):
        raise errors.BadRequest(
            f'Pointer `{pointer}` contains "~" not part of a recognized escape sequence.'
        )
    return [p.replace("~1", "/").replace("~0", "~").strip() for p in pointer[1:].split("/")]
