"""Block storage's tables. Every model module is imported here so that Alembic sees them all.

Every table name starts with `volume_`; resources are soft-deleted (`deleted`, `deleted_at`)
as Cinder keeps them, so that a crash mid-delete can be finished on restart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from overcast.common.db.base import make_base

if TYPE_CHECKING:  # a class mypy can see; at run time, the kernel's factory makes it
    from sqlalchemy.orm import DeclarativeBase

    class Base(DeclarativeBase): ...
else:
    Base = make_base("volume")

from overcast.volume.models import (  # noqa: E402
    backups,
    groups,
    hosts,
    quotas,
    transfers,
    types,
    volumes,
)

__all__ = ["Base", "backups", "groups", "hosts", "quotas", "transfers", "types", "volumes"]
