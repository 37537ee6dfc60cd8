"""Per-project image quotas: how many images, and how many bytes of data (stored or staged).

Usage lives in one row per project and is only changed by conditional UPDATEs
(`... SET images = images + 1 WHERE images + 1 <= limit`), so two racing requests can never
both take the last unit: the database decides, not process memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.config import ImageSettings
from overcast.image import models

Usage = models.ProjectUsage
GIB = 1 << 30


@dataclass(frozen=True)
class Limits:
    images: int  # -1: unlimited
    bytes: int  # -1: unlimited

    @classmethod
    def of(cls, cfg: ImageSettings) -> Limits:
        size = cfg.image_size_quota_gb
        return cls(cfg.image_count_quota, -1 if size < 0 else int(size * GIB))


async def _ensure(session: AsyncSession, project: str) -> None:
    if await session.get(Usage, project) is not None:
        return
    try:
        async with session.begin_nested():
            session.add(Usage(project_id=project, images=0, bytes=0))
    except IntegrityError:
        pass  # created by a concurrent request: fine


async def current(session: AsyncSession, project: str) -> tuple[int, int]:
    """(images, bytes) that `project` uses now."""
    row = await session.get(Usage, project, populate_existing=True)
    return (row.images, row.bytes) if row is not None else (0, 0)


async def charge(
    session: AsyncSession, project: str, limits: Limits, images: int = 0, nbytes: int = 0
) -> None:
    """Add to `project`'s usage, or raise OverQuota (HTTP 413) if that would pass a limit."""
    await _ensure(session, project)
    stmt = update(Usage).where(Usage.project_id == project)
    if images > 0 and limits.images >= 0:
        stmt = stmt.where(Usage.images + images <= limits.images)
    if nbytes > 0 and limits.bytes >= 0:
        stmt = stmt.where(Usage.bytes + nbytes <= limits.bytes)
    stmt = stmt.values(images=Usage.images + images, bytes=Usage.bytes + nbytes)
    result = await session.execute(stmt.execution_options(synchronize_session=False))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        if images > 0:
            raise errors.OverQuota(
                f"Maximum number of images exceeded: the limit of project {project} is "
                f"{limits.images} images."
            )
        raise errors.OverQuota(
            f"Image storage quota exceeded: project {project} may store {limits.bytes} bytes "
            f"of image data and this upload would pass that."
        )


async def release(session: AsyncSession, project: str, images: int = 0, nbytes: int = 0) -> None:
    """Give back what `charge` took (never below zero)."""
    await _ensure(session, project)
    stmt = (
        update(Usage)
        .where(Usage.project_id == project)
        .values(images=Usage.images - images, bytes=Usage.bytes - nbytes)
    )
    await session.execute(stmt.execution_options(synchronize_session=False))


async def room(session: AsyncSession, project: str, limits: Limits) -> int | None:
    """Bytes `project` may still store, or None when unlimited."""
    if limits.bytes < 0:
        return None
    _images, used = await current(session, project)
    return max(0, limits.bytes - used)
