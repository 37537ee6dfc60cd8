"""Alembic migrations, one branch per service, applied on start (one process at a time).

Each service keeps its revisions in `overcast/<service>/migrations/` with a two-line `env.py`
that calls `run_env`. Versions are tracked in a table of the service's own
(`alembic_version_<service>`), so the branches never interfere. When a service's table already
holds its newest revision, Alembic is not even imported: start-up stays fast and lean.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from overcast.common.db import locks
from overcast.common.db.session import Database

if TYPE_CHECKING:
    from alembic.config import Config

_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+)$", re.MULTILINE)


def version_table(service: str) -> str:
    return f"alembic_version_{service}"


def alembic_config(service: str, migrations: Path, url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.set_main_option("version_table", version_table(service))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def script_heads(migrations: Path) -> set[str]:
    """The newest revisions in `migrations/versions`, read from the files without Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (migrations / "versions").glob("*.py"):
        found = dict(_ASSIGNMENT.findall(path.read_text()))
        if "revision" not in found:
            continue
        revisions.add(ast.literal_eval(found["revision"]))
        down = ast.literal_eval(found.get("down_revision", "None"))
        parents.update(down if isinstance(down, tuple | list) else [down] if down else [])
    return revisions - parents


async def applied(db: Database, service: str) -> set[str]:
    """The revisions recorded in the service's version table (empty before the first run)."""
    try:
        async with db.engine.connect() as connection:
            rows = await connection.execute(
                text(f"SELECT version_num FROM {version_table(service)}")
            )
            return {str(row[0]) for row in rows}
    except DBAPIError:
        return set()


async def upgrade(
    db: Database, service: str, migrations: Path, attributes: dict[str, Any] | None = None
) -> None:
    """Bring `service`'s tables to the newest revision. `attributes` reach the revisions as
    `context.config.attributes` (what a data migration needs beside the database: keys)."""
    heads = script_heads(migrations)
    if heads and await applied(db, service) == heads:
        return
    # Processes starting together (API workers, nodes) migrate one at a time; the ones that
    # wait find the work done.
    async with locks.held(db, "overcast-migrations"):
        if heads and await applied(db, service) == heads:
            return
        from alembic import command

        cfg = alembic_config(service, migrations)

        def _run(connection: Connection) -> None:
            cfg.attributes.update(attributes or {})
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")

        async with db.engine.begin() as connection:
            await connection.run_sync(_run)


def run_env(metadata: MetaData) -> None:
    """Body of every service's Alembic env.py: migrate on the connection handed in."""
    from alembic import context

    config = context.config
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "version_table": config.get_main_option("version_table"),
        "render_as_batch": True,
        "compare_type": True,
    }
    connection = config.attributes.get("connection")
    if connection is None:
        from sqlalchemy import create_engine

        url = config.get_main_option("sqlalchemy.url") or "sqlite://"
        engine = create_engine(url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg"))
        with engine.connect() as connection:
            context.configure(connection=connection, **options)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=connection, **options)
    with context.begin_transaction():
        context.run_migrations()
