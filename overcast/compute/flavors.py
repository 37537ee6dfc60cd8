"""Flavors: the defaults created on first start, who may see which flavor, and the changes an
admin may make (create, delete, description, extra specs, access to private flavors).

Called by `api.flavors` and by `boot` (a flavor the caller cannot see is an invalid flavorRef).
"""

from __future__ import annotations

import re
import uuid as uuidlib
from typing import Any

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload
from sqlalchemy.sql.base import ExecutableOption

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.compute.models.flavors import Flavor, FlavorExtraSpec, FlavorProject

DEFAULTS = [  # (flavorid, name, vcpus, memory_mb, root_gb) as devstack makes them
    ("1", "m1.tiny", 1, 512, 1),
    ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80),
    ("5", "m1.xlarge", 8, 16384, 160),
]
# Nova's flavor names: any printable characters, 1-255, no white space at either end.
_NAME = re.compile(r"^(?!\s)[^\x00-\x1f]{1,255}(?<!\s)$")
_ID = re.compile(r"^(?! )[\w.-]{1,255}(?<! )$")
_SPEC_KEY = re.compile(r"^[\w.:-]{1,255}$")


async def seed(session: AsyncSession) -> None:
    """Create the default flavors when the table is empty (first start)."""
    if await session.scalar(select(func.count()).select_from(Flavor)):
        return
    for flavorid, name, vcpus, ram, disk in DEFAULTS:
        session.add(Flavor(flavorid=flavorid, name=name, vcpus=vcpus, memory_mb=ram, root_gb=disk))


def _visible(stmt: Select[Any], ctx: RequestContext) -> Select[Any]:
    access = exists().where(
        FlavorProject.flavor_id == Flavor.id, FlavorProject.project_id == (ctx.project_id or "")
    )
    return stmt.where(or_(Flavor.is_public.is_(True), access))


async def get(
    session: AsyncSession, ctx: RequestContext, flavorid: str, *options: ExecutableOption
) -> Flavor:
    """A flavor the caller may see (loaded with `options`); 404 otherwise."""
    stmt = select(Flavor).where(Flavor.flavorid == flavorid).options(*options)
    if not ctx.is_admin:
        stmt = _visible(stmt, ctx)
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise errors.NotFound(f"Flavor {flavorid} could not be found.")
    return found


async def get_for_boot(session: AsyncSession, ctx: RequestContext, flavor_ref: str) -> Flavor:
    """The flavor of a boot request (`flavorRef` may be an id or a URL); 400 if unknown."""
    flavorid = str(flavor_ref).rstrip("/").rsplit("/", 1)[-1]
    try:
        # Without the projects it is shared with: a boot keeps a snapshot, which has none
        # (one statement fewer per boot).
        flavor = await get(session, ctx, flavorid, raiseload(Flavor.projects))
    except errors.NotFound as exc:
        raise errors.BadRequest("Invalid flavorRef provided.") from exc
    if flavor.disabled:
        raise errors.BadRequest("Invalid flavorRef provided.")
    return flavor


def list_query(
    ctx: RequestContext, is_public: str | None, min_disk: int | None, min_ram: int | None
) -> Select[Any]:
    stmt = select(Flavor)
    if ctx.is_admin:
        value = (is_public or "true").lower()
        if value in ("true", "t", "1", "yes", "y", "on"):
            stmt = stmt.where(Flavor.is_public.is_(True))
        elif value in ("false", "f", "0", "no", "n", "off"):
            stmt = stmt.where(Flavor.is_public.is_(False))
        elif value != "none":
            raise errors.BadRequest(f"Invalid is_public filter [{is_public}]")
    else:
        stmt = _visible(stmt, ctx).where(Flavor.disabled.is_(False))
    if min_disk is not None:
        stmt = stmt.where(Flavor.root_gb >= min_disk)
    if min_ram is not None:
        stmt = stmt.where(Flavor.memory_mb >= min_ram)
    return stmt


async def create(session: AsyncSession, values: dict[str, Any]) -> Flavor:
    name = values["name"]
    if not isinstance(name, str) or not _NAME.match(name) or not name.isprintable():
        raise errors.BadRequest("Invalid input for field/attribute name.")
    flavorid = values.get("id")
    if flavorid in (None, "", "auto"):
        flavorid = str(uuidlib.uuid4())
    flavorid = str(flavorid)
    if not _ID.match(flavorid):
        raise errors.BadRequest("Invalid input for field/attribute id.")
    if await session.scalar(select(Flavor.id).where(Flavor.name == name)):
        raise errors.Conflict(f"Flavor with name {name} already exists.")
    if await session.scalar(select(Flavor.id).where(Flavor.flavorid == flavorid)):
        raise errors.Conflict(f"Flavor with ID {flavorid} already exists.")
    flavor = Flavor(
        flavorid=flavorid,
        name=name,
        vcpus=values["vcpus"],
        memory_mb=values["ram"],
        root_gb=values["disk"],
        ephemeral_gb=values.get("ephemeral", 0),
        swap=values.get("swap", 0),
        rxtx_factor=values.get("rxtx_factor", 1.0),
        is_public=values.get("is_public", True),
        description=values.get("description"),
        extra=[],
        projects=[],
    )
    session.add(flavor)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise errors.Conflict(f"Flavor with name {name} already exists.") from exc
    return flavor


def validate_spec_key(key: str) -> None:
    if not _SPEC_KEY.match(key):
        raise errors.BadRequest(
            "Invalid input for field/attribute extra_specs. Value: the key is not valid."
        )


# Extra specs whose values Nova checks (from microversion 2.86): the values each may take.
_SPEC_CHOICES = {
    "hw:cpu_policy": ("dedicated", "shared", "mixed"),
    "hw:cpu_thread_policy": ("prefer", "isolate", "require"),
    "hw:emulator_threads_policy": ("share", "isolate"),
    "hw:watchdog_action": ("none", "pause", "poweroff", "reset", "disabled"),
    "hw:mem_encryption": ("true", "false", "True", "False", "1", "0", "yes", "no"),
    "hw:boot_menu": ("true", "false", "True", "False", "1", "0", "yes", "no"),
}


def _check_spec_value(key: str, value: str) -> None:
    choices = _SPEC_CHOICES.get(key)
    if choices is not None and value not in choices:
        raise errors.BadRequest(
            f"Validation failed; extra spec {key} does not allow {value!r}: use one of "
            + ", ".join(choices)
        )
    if key == "hw:numa_nodes" and not (value.isdigit() and int(value) >= 1):
        raise errors.BadRequest(f"Validation failed; extra spec {key} must be an integer >= 1")


def set_specs(flavor: Flavor, specs: dict[str, Any], *, validate: bool = False) -> None:
    """Set extra specs; with `validate` (microversion 2.86 on), known specs' values are
    checked as Nova checks them."""
    current = {e.key: e for e in flavor.extra}
    for key, value in specs.items():
        validate_spec_key(key)
        if (
            not isinstance(value, (str, int, float))
            or isinstance(value, bool)
            or len(str(value)) > 255
        ):
            raise errors.BadRequest(f"Invalid input for field/attribute {key}.")
        if validate:
            _check_spec_value(key, str(value))
        if key in current:
            current[key].value = str(value)
        else:
            flavor.extra.append(FlavorExtraSpec(key=key, value=str(value)))


def delete_spec(flavor: Flavor, key: str) -> None:
    for spec in flavor.extra:
        if spec.key == key:
            flavor.extra.remove(spec)
            return
    raise errors.NotFound(f"Flavor {flavor.flavorid} has no extra specs with key {key}.")


def add_access(flavor: Flavor, project_id: str) -> None:
    if flavor.is_public:
        raise errors.Conflict("Can not add access to a public flavor.")
    if any(p.project_id == project_id for p in flavor.projects):
        raise errors.Conflict(
            f"Flavor access already exists for flavor {flavor.flavorid} and project "
            f"{project_id} combination."
        )
    flavor.projects.append(FlavorProject(project_id=project_id))


def remove_access(flavor: Flavor, project_id: str) -> None:
    for access in flavor.projects:
        if access.project_id == project_id:
            flavor.projects.remove(access)
            return
    raise errors.NotFound(
        f"Flavor access not found for {flavor.flavorid} / {project_id} combination."
    )
