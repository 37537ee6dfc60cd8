"""Swift's limits and name rules, in one place: checked by the API and advertised by `/info`."""

from __future__ import annotations

import time
from urllib.parse import unquote

from overcast.common import errors

MAX_FILE_SIZE = 5 * 1024**3 + 2  # a single object; larger ones are segmented (SLO/DLO)
MAX_META_NAME_LENGTH = 128
MAX_META_VALUE_LENGTH = 256
MAX_META_COUNT = 90
MAX_META_OVERALL_SIZE = 4096
MAX_HEADER_SIZE = 8192
MAX_OBJECT_NAME_LENGTH = 1024
CONTAINER_LISTING_LIMIT = 10000
ACCOUNT_LISTING_LIMIT = 10000
MAX_ACCOUNT_NAME_LENGTH = 256
MAX_CONTAINER_NAME_LENGTH = 256
EXTRA_HEADER_COUNT = 0
SMALL_OBJECT = 65536  # read whole with its metadata

LIMITS = {
    "max_file_size": MAX_FILE_SIZE,
    "max_meta_name_length": MAX_META_NAME_LENGTH,
    "max_meta_value_length": MAX_META_VALUE_LENGTH,
    "max_meta_count": MAX_META_COUNT,
    "max_meta_overall_size": MAX_META_OVERALL_SIZE,
    "max_header_size": MAX_HEADER_SIZE,
    "max_object_name_length": MAX_OBJECT_NAME_LENGTH,
    "container_listing_limit": CONTAINER_LISTING_LIMIT,
    "account_listing_limit": ACCOUNT_LISTING_LIMIT,
    "max_account_name_length": MAX_ACCOUNT_NAME_LENGTH,
    "max_container_name_length": MAX_CONTAINER_NAME_LENGTH,
    "extra_header_count": EXTRA_HEADER_COUNT,
    "valid_api_versions": ["v1", "v1.0"],
    "strict_cors_mode": True,
}


def now() -> str:
    """A Swift timestamp: seconds since the epoch with five decimals, sortable as text."""
    return f"{time.time():016.5f}"


def check_timestamp(value: str) -> str:
    try:
        return f"{float(value):016.5f}"
    except ValueError as exc:
        raise errors.BadRequest(
            f"X-Timestamp should be a UNIX timestamp float value; was {value!r}"
        ) from exc


def split_path(raw: str) -> tuple[str, str | None, str | None]:
    """`/v1/<account>[/<container>[/<object>]]` (already percent-decoded by the server) into
    its parts; 412 for names that are not UTF-8 or too long, as Swift answers."""
    parts = raw.split("/", 4)[1:]  # ["v1", account, container?, object?]
    account = parts[1] if len(parts) > 1 else ""
    container = parts[2] if len(parts) > 2 and parts[2] != "" else None
    obj = parts[3] if len(parts) > 3 and parts[3] != "" else None
    if len(parts) > 3 and container is None:
        raise errors.PreconditionFailed("Bad URL")  # //object
    for label, value, limit in (
        ("Account", account, MAX_ACCOUNT_NAME_LENGTH),
        ("Container", container, MAX_CONTAINER_NAME_LENGTH),
        ("Object", obj, MAX_OBJECT_NAME_LENGTH),
    ):
        if value is None:
            continue
        if _surrogate(value):
            raise errors.PreconditionFailed("Invalid UTF8 or contains NULL")
        size = len(value.encode())
        if size > limit:
            raise errors.BadRequest(f"{label} name length of {size} longer than {limit}")
    return account, container, obj


def _surrogate(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return "\x00" in value


def decode_path(raw_path: bytes) -> str:
    """The request path decoded as UTF-8; undecodable bytes become surrogates that
    `split_path` refuses."""
    return unquote(raw_path.decode("latin-1"), encoding="utf-8", errors="surrogateescape")


def check_metadata(headers: dict[str, str], kind: str) -> None:
    """Swift's limits on `X-<kind>-Meta-*` headers (count, name, value, overall size)."""
    prefix = f"x-{kind}-meta-"
    count = size = 0
    for key, value in headers.items():
        lower = key.lower()
        if not lower.startswith(prefix):
            continue
        name = key[len(prefix) :]
        if not name:
            raise errors.BadRequest("Metadata name cannot be empty")
        count += 1
        size += len(name.encode()) + len(value.encode())
        if len(name.encode()) > MAX_META_NAME_LENGTH:
            raise errors.BadRequest(f"Metadata name too long: {key}")
        if len(value.encode()) > MAX_META_VALUE_LENGTH:
            raise errors.BadRequest(f"Metadata value longer than {MAX_META_VALUE_LENGTH}: {key}")
    if count > MAX_META_COUNT:
        raise errors.BadRequest(f"Too many metadata items; max {MAX_META_COUNT}")
    if size > MAX_META_OVERALL_SIZE:
        raise errors.BadRequest(f"Total metadata too large; max {MAX_META_OVERALL_SIZE}")
