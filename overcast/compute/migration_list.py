"""Reading the migrations table for Nova's `os-migrations` and a server's `migrations`: the
filters (host, status, type, instance, project, user, change times), keyset paging, and the
flavors' integer ids the v2.1 views carry. Called by `compute.api.migrations`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.common.http import pagination
from overcast.compute import servers
from overcast.compute.models.flavors import Flavor
from overcast.compute.models.instances import Migration

IN_PROGRESS = ("queued", "preparing", "running", "post-migrating", "pre-migrating", "migrating")


def filtered(params: dict[str, str]) -> Select[Any]:
    stmt = select(Migration)
    if "host" in params:
        host = params["host"]
        stmt = stmt.where(or_(Migration.source_compute == host, Migration.dest_compute == host))
    if "source_compute" in params:
        stmt = stmt.where(Migration.source_compute == params["source_compute"])
    for key, column in (
        ("status", Migration.status),
        ("instance_uuid", Migration.instance_uuid),
        ("migration_type", Migration.migration_type),
        ("user_id", Migration.user_id),
        ("project_id", Migration.project_id),
    ):
        if key in params:
            stmt = stmt.where(column == params[key])
    if "changes-since" in params:
        since = servers.parse_time(params["changes-since"], "changes-since")
        stmt = stmt.where(Migration.updated_at >= since)
    if "changes-before" in params:
        before = servers.parse_time(params["changes-before"], "changes-before")
        stmt = stmt.where(Migration.updated_at <= before)
    return stmt


async def page(
    session: AsyncSession, params: dict[str, str], *, limit: int | None, marker: str | None
) -> list[Migration]:
    """The migrations `params` asks for, newest first, after the migration `marker` (a uuid)."""
    return await pagination.page(
        session,
        filtered(params),
        Migration,
        limit=limit,
        marker=marker,
        sort=[("created_at", "desc")],
        id_column="uuid",
    )


async def flavor_ids(session: AsyncSession, rows: list[Migration]) -> dict[str, int]:
    """flavorid -> the flavor's integer id, for the flavors `rows` name."""
    wanted = {f for r in rows for f in (r.old_flavor_id, r.new_flavor_id) if f}
    if not wanted:
        return {}
    found = await session.execute(
        select(Flavor.flavorid, Flavor.id).where(Flavor.flavorid.in_(wanted))
    )
    return {flavorid: ident for flavorid, ident in found.all()}


async def of_server(
    session: AsyncSession, instance_uuid: str, migration_id: str | None = None
) -> list[Migration]:
    """A server's live migrations in progress (all of them, or the one `migration_id`)."""
    stmt = select(Migration).where(
        Migration.instance_uuid == instance_uuid,
        Migration.migration_type == "live-migration",
        Migration.status.in_(IN_PROGRESS),
    )
    if migration_id is not None:
        if not migration_id.isdigit():
            raise errors.NotFound(f"Migration {migration_id} could not be found.")
        stmt = stmt.where(Migration.id == int(migration_id))
    return list((await session.execute(stmt.order_by(Migration.id))).scalars())
