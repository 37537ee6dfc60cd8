"""Neutron's attribute maps: what each resource accepts on create and update, with defaults,
and the converters that validate a value and turn it into its stored form.

A converter raises `errors.BadRequest` in Neutron's words ("Invalid input for cidr. Reason:
...") and nothing else; the API calls `parse` before any policy check or database work.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from overcast.common import errors

MISSING: Any = object()  # no default: the attribute is required on create
UNSET: Any = object()  # not given and no default: the domain decides


@dataclass(frozen=True)
class Attr:
    """One attribute: its converter, whether a create or update may set it, its default, and
    whether lists may filter and sort on it (through the model column of the same name)."""

    convert: Callable[[Any], Any] = lambda v: v
    post: bool = True
    put: bool = False
    default: Any = UNSET
    filter: bool = True
    sort: bool = True
    column: str | None = None  # the model column when it is named otherwise
    filter_convert: Callable[[str], Any] | None = None


def invalid(name: str, reason: str) -> errors.BadRequest:
    return errors.BadRequest(f"Invalid input for {name}. Reason: {reason}.")


def parse(
    name: str,
    attrs: Mapping[str, Attr],
    body: Any,
    *,
    create: bool,
) -> dict[str, Any]:
    """The converted attributes of a request body `{name: {...}}`; defaults filled on create."""
    if not isinstance(body, dict) or name not in body:
        raise errors.BadRequest(f"Resource body required: '{name}' is missing.")
    given = body[name]
    if not isinstance(given, dict):
        raise errors.BadRequest(f"Resource body for '{name}' must be an object.")
    out: dict[str, Any] = {}
    for key, value in given.items():
        spec = attrs.get(key)
        if key == "tenant_id":
            spec = attrs.get("project_id")
            key = "project_id"
        if spec is None:
            raise errors.BadRequest(f"Unrecognized attribute(s) '{key}'")
        if create and not spec.post:
            raise errors.BadRequest(f"Attribute '{key}' not allowed in POST")
        if not create and not spec.put:
            raise errors.BadRequest(f"Cannot update read-only attribute {key}")
        try:
            out[key] = spec.convert(value)
        except errors.BadRequest as exc:
            if exc.message.startswith("Invalid input for") or exc.kind is not None:
                raise
            raise invalid(key, exc.message.rstrip(".")) from exc
    if create:
        for key, spec in attrs.items():
            if key in out or not spec.post:
                continue
            if spec.default is MISSING:
                raise errors.BadRequest(
                    f"Failed to parse request. Required attribute '{key}' not specified"
                )
            if spec.default is not UNSET:
                out[key] = spec.default() if callable(spec.default) else spec.default
    return out


# -- converters --------------------------------------------------------------------------


def string(limit: int = 255, nullable: bool = False) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            raise errors.BadRequest(f"'{value}' is not a valid string")
        if len(value) > limit:
            raise errors.BadRequest(f"'{value}' exceeds maximum length of {limit}")
        return value

    return convert


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise errors.BadRequest(f"'{value}' cannot be converted to boolean")


def integer(
    low: int | None = None, high: int | None = None, nullable: bool = False
) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if value is None and nullable:
            return None
        if isinstance(value, bool):
            raise errors.BadRequest(f"'{value}' is not an integer")
        try:
            number = int(value)
        except (TypeError, ValueError) as exc:
            raise errors.BadRequest(f"'{value}' is not an integer") from exc
        if isinstance(value, float) and value != number:
            raise errors.BadRequest(f"'{value}' is not an integer")
        if low is not None and number < low:
            raise errors.BadRequest(f"'{number}' is too small - must be at least '{low}'")
        if high is not None and number > high:
            raise errors.BadRequest(f"'{number}' is too large - must be no larger than '{high}'")
        return number

    return convert


def uuid_(value: Any) -> str:
    if not isinstance(value, str):
        raise errors.BadRequest(f"'{value}' is not a valid UUID")
    try:
        uuid.UUID(value)
    except ValueError as exc:
        raise errors.BadRequest(f"'{value}' is not a valid UUID") from exc
    return value


def uuid_or_none(value: Any) -> str | None:
    return None if value is None else uuid_(value)


def project(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise errors.BadRequest(f"'{value}' is not a valid project id")
    return value


def ip_address(value: Any) -> str:
    if not isinstance(value, str):
        raise errors.BadRequest(f"'{value}' is not a valid IP address")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError as exc:
        raise errors.BadRequest(f"'{value}' is not a valid IP address") from exc


def ip_or_none(value: Any) -> str | None:
    return None if value is None else ip_address(value)


def cidr(value: Any) -> str:
    """A subnet in CIDR notation; host bits must be zero, as Neutron insists."""
    if not isinstance(value, str) or "/" not in value:
        raise errors.BadRequest(f"'{value}' is not a valid IP subnet")
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise errors.BadRequest(f"'{value}' is not a valid IP subnet") from exc
    if (
        str(net) != str(ipaddress.ip_interface(value).network)
        or ipaddress.ip_interface(value).ip != net.network_address
    ):
        raise errors.BadRequest(
            f"'{value}' isn't a recognized IP subnet cidr, '{net}' is recommended"
        )
    return str(net)


def prefix_or_address(value: Any) -> str:
    """A remote IP prefix: a CIDR (host bits are cleared, as Neutron normalises) or an address."""
    if not isinstance(value, str):
        raise errors.BadRequest(f"'{value}' is not a valid IP prefix")
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError as exc:
        raise errors.BadRequest(f"'{value}' is not a valid IP prefix") from exc


def address_or_cidr(value: Any) -> str:
    """An allowed address pair's address: a prefix (normalised as `prefix_or_address` does) or
    one address, which stays an address (Neutron does not turn `10.0.0.5` into `10.0.0.5/32`)."""
    if isinstance(value, str) and "/" in value:
        return prefix_or_address(value)
    return ip_address(value)


_MAC = re.compile(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$")


def mac(value: Any) -> str:
    if not isinstance(value, str) or not _MAC.match(value):
        raise errors.BadRequest(f"'{value}' is not a valid MAC address")
    octets = value.replace("-", ":").lower()
    first = int(octets[:2], 16)
    if first & 1 or octets == "00:00:00:00:00:00":
        raise errors.BadRequest(f"'{value}' is not a valid MAC address")
    return octets


def one_of(*choices: Any, nullable: bool = False) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if value is None and nullable:
            return None
        if value not in choices:
            shown = ", ".join(str(c) for c in choices)
            raise errors.BadRequest(f"'{value}' is not in [{shown}]")
        return value

    return convert


def list_of(item: Callable[[Any], Any], unique: bool = True) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if value is None:
            return []
        if not isinstance(value, list):
            raise errors.BadRequest(f"'{value}' is not a list")
        items = [item(v) for v in value]
        if unique:
            seen: list[Any] = []
            for v in items:
                if v in seen:
                    raise errors.BadRequest(f"Duplicate items in the list: '{v}'")
                seen.append(v)
        return items

    return convert


def dict_of(
    required: Mapping[str, Callable[[Any], Any]],
    optional: Mapping[str, Callable[[Any], Any]] | None = None,
) -> Callable[[Any], Any]:
    """A dict with exactly the given keys (the optional ones may be absent)."""
    optional = optional or {}

    def convert(value: Any) -> Any:
        if not isinstance(value, dict):
            raise errors.BadRequest(f"'{value}' is not a dictionary")
        unknown = set(value) - set(required) - set(optional)
        if unknown:
            raise errors.BadRequest(f"Unexpected keys supplied: {', '.join(sorted(unknown))}")
        out = {}
        for key, conv in required.items():
            if key not in value:
                raise errors.BadRequest(
                    f"Validation of dictionary's keys failed. Expected keys: {set(required)}"
                )
            out[key] = conv(value[key])
        for key, conv in optional.items():
            if key in value:
                out[key] = conv(value[key])
        return out

    return convert


def free_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise errors.BadRequest(f"'{value}' is not a dictionary")
    return value


def dns_name(value: Any) -> str:
    text = string(255)(value)
    if text and not re.match(
        r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$",
        text,
    ):
        raise errors.BadRequest(f"'{text}' not a valid PQDN or FQDN")
    return text


def tags(value: Any) -> list[str]:
    items = list_of(string(255))(value)
    for tag in items:
        if not tag or "," in tag:
            raise errors.BadRequest(f"'{tag}' is not a valid tag")
    return items


STANDARD: dict[str, Attr] = {
    "id": Attr(post=False),
    "project_id": Attr(convert=project, default=UNSET),
    "description": Attr(convert=string(255), put=True, default=""),
    "created_at": Attr(post=False),
    "updated_at": Attr(post=False),
    "revision_number": Attr(post=False, filter_convert=int),
    "tags": Attr(convert=tags, post=True, filter=False, sort=False),
}


def standard(**attrs: Attr) -> dict[str, Attr]:
    """The standard attributes plus a resource's own."""
    return {**STANDARD, **attrs}


def name_attr() -> Attr:
    return Attr(convert=string(255), put=True, default="")


@dataclass
class Query:
    """A parsed list request: filters by attribute, tag filters, fields, sort and paging."""

    filters: dict[str, list[str]] = field(default_factory=dict)
    tags: dict[str, list[str]] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)
    sort: list[tuple[str, str]] = field(default_factory=list)
    limit: int | None = None
    marker: str | None = None
    page_reverse: bool = False
