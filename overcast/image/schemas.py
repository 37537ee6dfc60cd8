"""The JSON schemas Glance serves at /v2/schemas/*, built from settings; clients read them.

`image()` is also what create and update requests are validated against (see `validation`).
"""

from __future__ import annotations

from typing import Any

from overcast.common.config import ImageSettings

UUID_PATTERN = (
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
)
STATUSES = [
    "queued",
    "saving",
    "active",
    "killed",
    "deleted",
    "uploading",
    "importing",
    "pending_delete",
    "deactivated",
]


def _s(kind: Any, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "description": description, **extra}


def base_properties(cfg: ImageSettings) -> dict[str, Any]:
    """The image's own attributes (everything else is an additional property)."""
    ro = {"readOnly": True}
    nullable = ["null", "string"]
    return {
        "id": _s("string", "An identifier for the image", pattern=UUID_PATTERN),
        "name": _s(nullable, "Descriptive name for the image", maxLength=255),
        "status": _s("string", "Status of the image", enum=STATUSES, **ro),
        "visibility": _s(
            "string",
            "Scope of image accessibility",
            enum=["community", "public", "private", "shared"],
        ),
        "protected": _s("boolean", "If true, image will not be deletable."),
        "os_hidden": _s(
            "boolean", "If true, image will not appear in default image list response."
        ),
        "checksum": _s(nullable, "md5 hash of image contents.", maxLength=32, **ro),
        "os_hash_algo": _s(
            nullable, "Algorithm to calculate the os_hash_value", maxLength=64, **ro
        ),
        "os_hash_value": _s(
            nullable,
            "Hexdigest of the image contents using the algorithm specified by the os_hash_algo",
            maxLength=128,
            **ro,
        ),
        "owner": _s(nullable, "Owner of the image", maxLength=255),
        "size": _s(["null", "integer"], "Size of image file in bytes", **ro),
        "virtual_size": _s(["null", "integer"], "Virtual size of image in bytes", **ro),
        "container_format": _s(
            nullable, "Format of the container", enum=[None, *cfg.container_formats]
        ),
        "disk_format": _s(nullable, "Format of the disk", enum=[None, *cfg.disk_formats]),
        "created_at": _s("string", "Date and time of image registration", **ro),
        "updated_at": _s("string", "Date and time of the last image modification", **ro),
        "tags": _s(
            "array",
            "List of strings related to the image",
            items={"type": "string", "maxLength": 255},
        ),
        "direct_url": _s("string", "URL to access the image file kept in external store", **ro),
        "min_ram": _s("integer", "Amount of ram (in MB) required to boot image."),
        "min_disk": _s("integer", "Amount of disk space (in GB) required to boot image."),
        "self": _s("string", "An image self url", **ro),
        "file": _s("string", "An image file url", **ro),
        "stores": _s(
            "string",
            "Store in which image data resides.  Only present when the operator has enabled "
            "multiple stores.  May be a comma-separated list of store identifiers.",
            **ro,
        ),
        "schema": _s("string", "An image schema url", **ro),
        "locations": _s(
            "array",
            "A set of URLs to access the image file kept in external store",
            items={
                "type": "object",
                "properties": {
                    "url": {"type": "string", "maxLength": 255},
                    "metadata": {"type": "object"},
                },
                "required": ["url", "metadata"],
            },
        ),
    }


def custom_properties() -> dict[str, Any]:
    """Glance's stock schema-image.json: well-known additional properties."""
    see = "as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html"
    return {
        "kernel_id": _s(
            ["null", "string"],
            "ID of image stored in Glance that should be used as the kernel when booting an "
            "AMI-style image.",
            pattern=UUID_PATTERN,
            is_base=False,
        ),
        "ramdisk_id": _s(
            ["null", "string"],
            "ID of image stored in Glance that should be used as the ramdisk when booting an "
            "AMI-style image.",
            pattern=UUID_PATTERN,
            is_base=False,
        ),
        "instance_uuid": _s(
            "string",
            "Metadata which can be used to record which instance this image is associated with. "
            "(Informational only, does not create an instance snapshot.)",
            is_base=False,
        ),
        "architecture": _s("string", f"Operating system architecture {see}", is_base=False),
        "os_distro": _s(
            "string", f"Common name of operating system distribution {see}", is_base=False
        ),
        "os_version": _s(
            "string", "Operating system version as specified by the distributor.", is_base=False
        ),
        "description": _s(
            "string", "A human-readable string describing this image.", is_base=False
        ),
    }


def image(cfg: ImageSettings) -> dict[str, Any]:
    return {
        "name": "image",
        "properties": {**base_properties(cfg), **custom_properties()},
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def collection(name: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            name: {"type": "array", "items": item},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def member() -> dict[str, Any]:
    return {
        "name": "member",
        "properties": {
            "created_at": _s("string", "Date and time of image member creation"),
            "image_id": _s("string", "An identifier for the image", pattern=UUID_PATTERN),
            "member_id": _s("string", "An identifier for the image member (tenantId)"),
            "schema": {"type": "string", "readOnly": True},
            "status": _s(
                "string",
                "The status of this image member",
                enum=["pending", "accepted", "rejected"],
            ),
            "updated_at": _s("string", "Date and time of last modification of image member"),
        },
    }


def task() -> dict[str, Any]:
    nullable_object = ["null", "object"]
    return {
        "name": "task",
        "properties": {
            "id": _s("string", "An identifier for the task", pattern=UUID_PATTERN),
            "type": _s(
                "string",
                "The type of task represented by this content",
                enum=["import", "api_image_import", "location_import"],
            ),
            "status": _s(
                "string",
                "The current status of this task",
                enum=["pending", "processing", "success", "failure"],
            ),
            "input": _s(nullable_object, "The parameters required by task, JSON blob"),
            "result": _s(nullable_object, "The result of current task, JSON blob"),
            "owner": _s("string", "An identifier for the owner of this task"),
            "message": _s(
                "string",
                "Human-readable informative message only included when appropriate "
                "(usually on failure)",
            ),
            "image_id": _s("string", "Image associated with the task"),
            "request_id": _s("string", "Request ID of the request that created the task"),
            "user_id": _s("string", "User associated with the task"),
            "expires_at": _s(
                ["null", "string"], "Datetime when this resource would be subject to removal"
            ),
            "created_at": _s("string", "Datetime when this resource was created"),
            "updated_at": _s("string", "Datetime when this resource was updated"),
            "self": {"type": "string"},
            "schema": {"type": "string"},
        },
        "required": ["type", "input"],
        "links": [{"rel": "self", "href": "{self}"}, {"rel": "describedby", "href": "{schema}"}],
    }


def all_schemas(cfg: ImageSettings) -> dict[str, dict[str, Any]]:
    """Path under /v2/schemas/ -> schema document."""
    img = image(cfg)
    mem = member()
    members = collection("members", mem)
    members["links"] = [{"rel": "describedby", "href": "{schema}"}]
    del members["properties"]["first"], members["properties"]["next"]
    return {
        "image": img,
        "images": collection("images", img),
        "member": mem,
        "members": members,
        "task": task(),
        "tasks": collection("tasks", task()),
    }
