"""Request bodies of the servers API, checked as Nova's JSON schemas check them, turned into
the domain's typed commands (`boot.BootRequest`). Messages follow Nova's wording."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import uuid
from typing import Any

from overcast.common import errors
from overcast.compute.api.deps import Req
from overcast.compute.boot import BootRequest

_CREATE_KEYS = {
    "name",
    "imageRef",
    "flavorRef",
    "networks",
    "adminPass",
    "metadata",
    "key_name",
    "user_data",
    "availability_zone",
    "block_device_mapping_v2",
    "block_device_mapping",
    "min_count",
    "max_count",
    "return_reservation_id",
    "security_groups",
    "config_drive",
    "accessIPv4",
    "accessIPv6",
    "OS-DCF:diskConfig",
    "description",
    "tags",
    "trusted_image_certificates",
    "host",
    "hypervisor_hostname",
    "hostname",
    "personality",
}
_HOSTNAME = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
_FQDN = re.compile(r"^(?=.{1,255}$)[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$")
_TAG = re.compile(r"^[^,/]{1,60}$")


def bad(field: str, detail: str) -> errors.BadRequest:
    return errors.BadRequest(f"Invalid input for field/attribute {field}. {detail}")


def name(value: Any, field: str = "name") -> str:
    if not isinstance(value, str):
        raise bad(field, f"Value: {value}. {value!r} is not of type 'string'")
    if not 1 <= len(value) <= 255 or value != value.strip() and not value.strip():
        raise bad(field, f"Value: {value}. {value!r} is too short or too long")
    if not value.isprintable():
        raise bad(field, f"Value: {value!r}. Names hold printable characters only")
    return value


def password(value: Any, field: str = "adminPass") -> str | None:
    """An optional `adminPass`: a string when given."""
    if value is not None and not isinstance(value, str):
        raise bad(field, f"Value: {value}. {value!r} is not of type 'string'")
    return value


def zone(value: Any, field: str = "availability_zone") -> str | None:
    """An optional availability zone name: a string when given."""
    if value is not None and not isinstance(value, str):
        raise bad(field, f"Value: {value}. {value!r} is not of type 'string'")
    return value


def access_ip(value: Any, version: int) -> str | None:
    """`accessIPv4`/`accessIPv6`: an address of that family, kept in its canonical form
    (RFC 5952 for IPv6), or nothing for an empty value."""
    field = f"accessIPv{version}"
    if value is None or value == "":
        return None
    try:
        address = ipaddress.ip_address(value) if isinstance(value, str) else None
    except ValueError:
        address = None
    if address is None or address.version != version:
        raise bad(field, f"Value: {value}. {value!r} is not a 'ipv{version}'")
    return str(address)


def is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def metadata(value: Any, field: str = "metadata") -> dict[str, str]:
    if not isinstance(value, dict):
        raise bad(field, f"Value: {value}. {value!r} is not of type 'object'")
    for key, item in value.items():
        if not 1 <= len(key) <= 255:
            raise bad(field, f"Value: {key}. metadata key length must be 1-255")
        if not isinstance(item, str) or len(item) > 255:
            raise bad(field, f"Value: {item}. metadata values must be strings of at most 255")
    return dict(value)


def tags(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > 50:
        raise bad("tags", "Value: tags must be a list of at most 50 tags")
    for tag in value:
        if not isinstance(tag, str) or not _TAG.match(tag):
            raise bad("tags", f"Value: {tag}. Tags may not contain ',' or '/' and are 1-60 long")
    return list(value)


def _count(body: dict[str, Any], key: str) -> int:
    value = body.get(key, 1)
    whole = isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())
    if not whole or isinstance(value, bool):
        raise bad(key, f"Value: {value}. {value!r} is not of type 'integer', 'string'")
    number = int(value)
    if number < 1:
        raise bad(key, f"Value: {value}. {value} is less than the minimum of 1")
    return number


def _networks(r: Req, value: Any) -> Any:
    if value is None:
        if r.at_least("2.37"):
            raise bad("networks", "networks is required from microversion 2.37")
        return None
    if isinstance(value, str):
        if value not in ("auto", "none") or not r.at_least("2.37"):
            raise bad("networks", f"Value: {value}. {value!r} is not valid")
        return value
    if not isinstance(value, list):
        raise bad("networks", f"Value: {value}. {value!r} is not of type 'array'")
    out = []
    for item in value:
        if not isinstance(item, dict) or not (item.get("uuid") or item.get("port")):
            raise errors.BadRequest("Bad networks format: network uuid is not in proper format")
        if item.get("uuid") and not is_uuid(item["uuid"]):
            raise errors.BadRequest(
                f"Bad networks format: network uuid is not in proper format ({item['uuid']})"
            )
        out.append({k: item[k] for k in ("uuid", "port", "fixed_ip", "tag") if item.get(k)})
    return out


def _bdms(body: dict[str, Any]) -> list[dict[str, Any]]:
    bdms = body.get("block_device_mapping_v2") or []
    if not isinstance(bdms, list):
        raise bad("block_device_mapping_v2", "must be a list")
    out = []
    for bdm in bdms:
        if not isinstance(bdm, dict):
            raise bad("block_device_mapping_v2", "items must be objects")
        source = bdm.get("source_type", "image" if bdm.get("uuid") else "blank")
        dest = bdm.get("destination_type", "volume" if source != "image" else "local")
        if source not in ("image", "volume", "snapshot", "blank"):
            raise bad("source_type", f"Value: {source}. not one of image, volume, snapshot, blank")
        if dest not in ("local", "volume"):
            raise bad("destination_type", f"Value: {dest}. not one of local, volume")
        if source != "blank" and not is_uuid(bdm.get("uuid")):
            raise errors.BadRequest("Block Device Mapping is Invalid: uuid must be a UUID.")
        item = dict(bdm, source_type=source, destination_type=dest)
        if source == "volume":
            item["volume_id"] = bdm["uuid"]
        out.append(item)
    return out


def boot_request(r: Req, body: dict[str, Any]) -> BootRequest:
    """The typed boot command of a POST /servers body."""
    server = body.get("server")
    if not isinstance(server, dict):
        raise errors.BadRequest("Invalid input for field/attribute server.")
    unknown = sorted(set(server) - _CREATE_KEYS)
    if unknown:
        raise errors.BadRequest(
            "Invalid input for field/attribute server. Value: ... Additional properties are not "
            f"allowed ({', '.join(repr(u) for u in unknown)} were unexpected)"
        )
    if "personality" in server and r.at_least("2.57"):
        raise errors.BadRequest(
            "Additional properties are not allowed ('personality' was unexpected)"
        )
    if "flavorRef" not in server:
        raise errors.BadRequest("Missing flavorRef attribute")
    image_ref = server.get("imageRef") or ""
    if not isinstance(image_ref, str):
        raise bad("imageRef", f"Value: {image_ref}. is not of type 'string'")
    image_ref = image_ref.rstrip("/").rsplit("/", 1)[-1]
    if image_ref and not is_uuid(image_ref):
        raise errors.BadRequest("Invalid imageRef provided.")
    min_count, max_count = _count(server, "min_count"), _count(server, "max_count")
    if "max_count" not in server:
        max_count = max(min_count, max_count)
    if min_count > max_count:
        raise errors.BadRequest("min_count must be <= max_count")
    user_data = server.get("user_data")
    if user_data is not None:
        try:
            base64.b64decode(user_data, validate=True)
        except (binascii.Error, TypeError, ValueError) as exc:
            raise errors.BadRequest("User data needs to be valid base 64.") from exc
        if len(user_data) > 65535:
            raise bad("user_data", "is too long")
    hostname = server.get("hostname")
    if hostname is not None:
        pattern = _FQDN if r.at_least("2.94") else _HOSTNAME
        if not r.at_least("2.90") or not isinstance(hostname, str) or not pattern.match(hostname):
            raise bad("hostname", f"Value: {hostname}. is not a valid hostname")
    if "description" in server and not r.at_least("2.19"):
        raise errors.BadRequest(
            "Additional properties are not allowed ('description' was unexpected)"
        )
    if "tags" in server and not r.at_least("2.52"):
        raise errors.BadRequest("Additional properties are not allowed ('tags' was unexpected)")
    for key in ("host", "hypervisor_hostname"):
        if key in server and not r.at_least("2.74"):
            raise errors.BadRequest(
                f"Additional properties are not allowed ('{key}' was unexpected)"
            )
    description = server.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 255):
        raise bad("description", "must be a string of at most 255 characters")
    hints = body.get("os:scheduler_hints") or body.get("OS-SCH-HNT:scheduler_hints") or {}
    if not isinstance(hints, dict):
        raise bad("os:scheduler_hints", "must be an object")
    groups = server.get("security_groups") or []
    if not isinstance(groups, list) or any(
        not isinstance(g, dict) or "name" not in g for g in groups
    ):
        raise bad("security_groups", "must be a list of {name}")
    config_drive = server.get("config_drive")
    return BootRequest(
        name=name(server.get("name")),
        flavor_ref=str(server["flavorRef"]),
        image_ref=image_ref,
        networks=_networks(r, server.get("networks")),
        admin_pass=password(server.get("adminPass")),
        metadata=metadata(server.get("metadata") or {}),
        key_name=server.get("key_name"),
        user_data=user_data,
        availability_zone=zone(server.get("availability_zone")),
        bdms=_bdms(server),
        min_count=min_count,
        max_count=max_count,
        security_groups=[str(g["name"]) for g in groups],
        config_drive=config_drive in (True, "True", "true", "1", 1),
        access_ip_v4=access_ip(server.get("accessIPv4"), 4),
        access_ip_v6=access_ip(server.get("accessIPv6"), 6),
        disk_config=server.get("OS-DCF:diskConfig") or "MANUAL",
        description=description,
        tags=tags(server.get("tags") or []),
        trusted_certs=server.get("trusted_image_certificates"),
        host=server.get("host"),
        hypervisor_hostname=server.get("hypervisor_hostname"),
        hostname=hostname,
        hints=hints,
    )
