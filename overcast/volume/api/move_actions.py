"""Volume actions that move a volume's data or type: `os-retype` (in place when its back end
can hold the new type, else a migration if `migration_policy` is on-demand) and admins'
`os-migrate_volume`, and `os-migrate_volume_completion`, which compute calls once it has
swapped a server's disk for a migration. The checks and the row's state are
`volume.migrate`'s; the scheduler and the agents do the move."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.volume import migrate, quotas, volumes
from overcast.volume import types as vtypes
from overcast.volume.api import schemas
from overcast.volume.api.actions import action, as_object, outside, schedule
from overcast.volume.api.deps import Req
from overcast.volume.models.volumes import Volume
from overcast.volume.scheduler import filters, pools


@action("os-retype")
async def retype(r: Req, session: AsyncSession, volume: Volume, args: Any) -> None:
    r.enforce("volume:retype", r.target(volume.project_id))
    args = as_object(args, "os-retype")
    new = await vtypes.get(session, str(args.get("new_type")), r.project_id, r.ctx.is_admin)
    policy = args.get("migration_policy", "never") or "never"
    schemas.choice(policy, "migration_policy", ("never", "on-demand"))
    volumes.require_status(volume, "available", "in-use", action="retype")
    if new.id == volume.volume_type_id:
        raise errors.BadRequest(
            "Invalid volume type: New volume type must be different from the current one."
        )
    await quotas.reserve(
        session,
        r.state.settings.volume,
        volume.project_id,
        {},
        {new.id: {"volumes": 1, "gigabytes": volume.size}},
    )
    live = await pools.live(session, r.state.settings.volume.service_down_time)
    here = [p for p in live if p.host == volume.host]
    request = filters.Request(size=0, availability_zone=None, extra_specs=dict(new.extra_specs))
    if here and filters.capabilities(here[0], request):
        volume.volume_type_id = new.id
        return
    if policy == "never":
        raise errors.BadRequest(
            f"Invalid volume type: Retype of volume {volume.id} to type {new.name} needs a"
            " migration to another back end, which migration_policy 'never' does not allow."
        )
    await migrate.start(session, volume, retype_to=new.id)
    schedule(r, volume)


@action("os-migrate_volume")
async def migrate_volume(r: Req, session: AsyncSession, volume: Volume, args: Any) -> None:
    r.enforce("volume_extension:volume_admin_actions:migrate_volume", r.target(volume.project_id))
    args = as_object(args, "os-migrate_volume")
    host = schemas.text(args.get("host"), "host", nullable=not r.at_least("3.16"))
    if r.at_least("3.16") and args.get("cluster") is not None:
        raise errors.BadRequest("Invalid input received: clusters are not supported here.")
    if not host:
        raise errors.BadRequest("Invalid input received: host must be given.")
    schemas.boolean(args.get("force_host_copy", False), "force_host_copy")
    lock = schemas.boolean(args.get("lock_volume", False), "lock_volume")
    live = await pools.live(session, r.state.settings.volume.service_down_time)
    if host not in {p.host for p in live} | {p.backend for p in live}:
        raise errors.BadRequest(f"Invalid host: No back end {host} is known.")
    await migrate.start(session, volume, host=host, lock=lock)
    schedule(r, volume)


@outside("os-migrate_volume_completion")
async def migrate_completion(r: Req, volume_id: str, args: Any) -> dict[str, Any]:
    async with r.state.db.reader() as session:
        volume = await volumes.get(session, volume_id, r.project_id, r.ctx.is_admin)
    r.enforce(
        "volume_extension:volume_admin_actions:migrate_volume_completion",
        r.target(volume.project_id),
    )
    args = as_object(args, "os-migrate_volume_completion")
    new_id = schemas.uuid_(args.get("new_volume"), "new_volume", nullable=False)
    failed = schemas.boolean(args.get("error", False), "error")
    assert new_id is not None
    kept = await migrate.complete(r.state, r.bus_ctx, volume.id, new_id, failed)
    return {"save_volume_id": kept}
