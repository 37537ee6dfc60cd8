"""Compute's tables. Every model module is imported here so that Alembic sees all of them.

The modules of the resources around servers (key pairs, server groups, aggregates, quotas) are
imported when present; they share this package's `Base`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from overcast.common.db.base import make_base

if TYPE_CHECKING:  # a class mypy can see; at run time, the kernel's factory makes it
    from sqlalchemy.orm import DeclarativeBase

    class Base(DeclarativeBase): ...
else:
    Base = make_base("compute")

from overcast.compute.models import actions, flavors, hosts, instances  # noqa: E402

OPTIONAL = ("keypairs", "server_groups", "aggregates", "quotas", "consoles")
for _name in OPTIONAL:
    try:
        importlib.import_module(f"overcast.compute.models.{_name}")
    except ModuleNotFoundError as exc:  # not written yet
        if exc.name != f"overcast.compute.models.{_name}":
            raise

__all__ = ["Base", "actions", "flavors", "hosts", "instances"]
