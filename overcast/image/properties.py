"""Setting an image's attributes and additional properties, with Glance's rules for each.

Used by create (every key of the body) and by update (each JSON-patch `Change`). Nothing here
touches the database: it changes an `Image` row that the caller commits or throws away.
"""

from __future__ import annotations

from typing import Any

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.image import access, models, patch
from overcast.image.state import ImageState

BASE = frozenset(
    {
        "name",
        "visibility",
        "protected",
        "os_hidden",
        "min_ram",
        "min_disk",
        "container_format",
        "disk_format",
        "owner",
        "tags",
    }
)
QUEUED_ONLY = ("container_format", "disk_format")
MAX_PROPERTIES = 128
MAX_TAGS = 128


def set_base(
    st: ImageState,
    ctx: RequestContext,
    image: models.Image,
    name: str,
    value: Any,
    *,
    new: bool = True,
) -> None:
    if name == "tags":
        set_tags(image, value)
        return
    if name == "visibility" and value != image.visibility:
        rule = {"public": "publicize_image", "community": "communitize_image"}.get(value)
        if rule:
            st.policy.enforce(rule, ctx, access.target(image, ctx))
    if name in ("min_ram", "min_disk") and value < 0:
        raise errors.BadRequest(f"{name}: Cannot be a negative value.")
    if (
        not new
        and name in QUEUED_ONLY
        and image.status != "queued"
        and value != getattr(image, name)
    ):
        raise errors.Forbidden(f"Attribute {name} can be only replaced for a queued image.")
    if not new and name == "owner" and not ctx.is_admin and value != image.owner:
        raise errors.Forbidden("Owner can't be updated by non admin.")
    setattr(image, name, value)


def set_extra(image: models.Image, name: str, value: Any) -> None:
    if len(name) > 255:
        raise errors.BadRequest("Custom property should not be greater than 255 characters.")
    if name in patch.RESERVED or name.startswith(patch.RESERVED_PREFIX):
        raise errors.Forbidden(f"Attribute '{name}' is reserved.")
    for prop in image.properties:
        if prop.name == name:
            prop.value = value
            return
    if len(image.properties) >= MAX_PROPERTIES:
        raise errors.OverQuota(
            f"Maximum number of image properties exceeded: the limit is {MAX_PROPERTIES}."
        )
    image.properties.append(models.ImageProperty(name=name, value=value))


def set_tags(image: models.Image, tags: list[str]) -> None:
    wanted = list(dict.fromkeys(tags))
    if len(wanted) > MAX_TAGS:
        raise errors.OverQuota(f"Maximum number of image tags exceeded: the limit is {MAX_TAGS}.")
    present = {t.value: t for t in image.tags}
    image.tags[:] = [present.get(v) or models.ImageTag(value=v) for v in wanted]


def _extra(image: models.Image, name: str) -> models.ImageProperty | None:
    return next((p for p in image.properties if p.name == name), None)


def apply(st: ImageState, ctx: RequestContext, image: models.Image, change: patch.Change) -> None:
    """Apply one patch operation to `image`, as Glance's `_do_add/_do_remove/_do_replace`."""
    name = change.name
    if name == "locations":
        raise errors.Forbidden("It's not allowed to update locations if locations are invisible.")
    existing = _extra(image, name)
    if change.op == "remove":
        if name in BASE:
            raise errors.Forbidden(f"Property {name} may not be removed.")
        if existing is None:
            raise errors.Conflict(f"Property {name} does not exist.")
        image.properties.remove(existing)
        return
    present = name in BASE or existing is not None
    if change.op == "replace" and not present:
        raise errors.Conflict(f"Property {name} does not exist.")
    if change.op == "add" and change.strict and present:
        raise errors.Conflict(f"Property {name} already present.")
    if name in BASE:
        set_base(st, ctx, image, name, change.value, new=False)
    else:
        set_extra(image, name, change.value)
