"""Alembic migrations, one branch per service, applied on start.

Each service keeps its revisions in `overcast/<service>/migrations/` with a two-line `env.py`
that calls `run_env`. Versions are tracked in a table of the service's own
(`alembic_version_<service>`), so the branches never interfere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from overcast.common.db.session import Database


def alembic_config(service: str, migrations: Path, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.set_main_option("version_table", f"alembic_version_{service}")
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def upgrade(db: Database, service: str, migrations: Path) -> None:
    """Bring `service`'s tables to the newest revision."""
    cfg = alembic_config(service, migrations)

    def _run(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")

    async with db.engine.begin() as connection:
        await connection.run_sync(_run)


def run_env(metadata: MetaData) -> None:
    """Body of every service's Alembic env.py: migrate on the connection handed in."""
    config = context.config
    version_table = config.get_main_option("version_table")
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "version_table": version_table,
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
