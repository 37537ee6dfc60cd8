"""Volume types: lookup by id or name as a project sees them (public, or private with access),
the default type (the project's own, else the configured one), and the checks on names and
extra specs the types API makes. The default type `__DEFAULT__` exists from the first start."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.volume.models.types import DEFAULT_TYPE, DefaultType, TypeAccess, VolumeType
from overcast.volume.models.volumes import Volume


def not_found(type_id: str) -> errors.NotFound:
    return errors.NotFound(f"Volume type {type_id} could not be found.")


async def seed(session: AsyncSession) -> None:
    """The `__DEFAULT__` type Cinder creates on its first start."""
    found = await session.scalar(
        select(VolumeType).where(VolumeType.name == DEFAULT_TYPE, VolumeType.deleted.is_(False))
    )
    if found is None:
        session.add(VolumeType(name=DEFAULT_TYPE, description="Default Volume Type"))


def visible(project_id: str | None, admin: bool) -> list[object]:
    """WHERE clauses: the types `project_id` may use (admins see every type)."""
    clauses: list[object] = [VolumeType.deleted.is_(False)]
    if not admin:
        access = select(TypeAccess.volume_type_id).where(TypeAccess.project_id == project_id)
        clauses.append(or_(VolumeType.is_public.is_(True), VolumeType.id.in_(access)))
    return clauses


async def get(
    session: AsyncSession, ref: str, project_id: str | None, admin: bool, by_name: bool = True
) -> VolumeType:
    """The type with id `ref` (or, with `by_name`, named `ref`) that the caller may use."""
    clauses = visible(project_id, admin)
    found = await session.scalar(select(VolumeType).where(VolumeType.id == ref, *clauses))
    if found is None and by_name:
        found = await session.scalar(select(VolumeType).where(VolumeType.name == ref, *clauses))
    if found is None:
        raise not_found(ref)
    return found


async def default(session: AsyncSession, project_id: str, configured: str) -> VolumeType:
    """The project's default type (3.62), else the configured `default_volume_type`."""
    own = await session.get(DefaultType, project_id)
    if own is not None:
        found = await session.get(VolumeType, own.volume_type_id)
        if found is not None and not found.deleted:
            return found
    found = await session.scalar(
        select(VolumeType).where(VolumeType.name == configured, VolumeType.deleted.is_(False))
    )
    if found is None:
        found = await session.scalar(
            select(VolumeType).where(VolumeType.name == DEFAULT_TYPE, VolumeType.deleted.is_(False))
        )
    if found is None:
        raise errors.BadRequest("No default volume type is configured.")
    return found


async def check_name_free(session: AsyncSession, name: str, except_id: str | None = None) -> None:
    found = await session.scalar(
        select(VolumeType).where(VolumeType.name == name, VolumeType.deleted.is_(False))
    )
    if found is not None and found.id != except_id:
        raise errors.Conflict(f"Volume Type {name} already exists.")


async def delete(session: AsyncSession, vtype: VolumeType) -> None:
    """Delete a type no volume uses (400 otherwise, as Cinder's VolumeTypeInUse is)."""
    if vtype.name == DEFAULT_TYPE:
        raise errors.BadRequest("Default volume type can not be deleted.")
    in_use = await session.scalar(
        select(Volume.id).where(Volume.volume_type_id == vtype.id, Volume.deleted.is_(False))
    )
    if in_use is not None:
        raise errors.BadRequest(
            f"Target volume type is still in use. Volume Type {vtype.id} deletion is not"
            " allowed with volumes present with the type."
        )
    defaults = await session.execute(
        select(DefaultType).where(DefaultType.volume_type_id == vtype.id)
    )
    if defaults.scalars().first() is not None:
        raise errors.BadRequest(f"Volume type {vtype.id} is a project's default type.")
    vtype.deleted = True
    vtype.deleted_at = utcnow()


def check_specs(specs: object) -> dict[str, str]:
    """Extra specs as Cinder accepts them: string keys (1-255) and string values (0-255)."""
    if not isinstance(specs, dict):
        raise errors.BadRequest("extra_specs must be an object.")
    out: dict[str, str] = {}
    for key, value in specs.items():
        if not isinstance(key, str) or not 0 < len(key) <= 255:
            raise errors.BadRequest(f"Invalid extra spec key {key!r}.")
        if isinstance(value, bool):
            value = str(value)
        if isinstance(value, int | float):
            value = str(value)
        if not isinstance(value, str) or len(value) > 255:
            raise errors.BadRequest(f"Invalid value for extra spec {key!r}: must be a string.")
        out[key] = value
    return out
