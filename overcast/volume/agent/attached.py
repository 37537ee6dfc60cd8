"""Moving an attached volume between back ends, as Cinder does: the guest keeps writing, so
the hypervisor copies the data. The source's agent makes a temporary volume on the destination
(its own id, its data named after the volume it will become: `name_id`; it consumes no quota)
and asks compute to swap the server's disk for it (Nova's swap volume). Compute mirrors the
disk, then calls `os-migrate_volume_completion`, where the two rows trade places
(`volume.migrate.complete`) and the source's copy goes with the temporary row.

Until compute completes, the volume is whole where it was; a failure before the swap is
handed over drops the temporary volume and ends the migration in `error`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from overcast.clients.compute import ComputeClient
from overcast.common import log
from overcast.common.db.base import new_uuid, utcnow
from overcast.volume import outcomes, rpc
from overcast.volume.agent import refs
from overcast.volume.models.volumes import Volume

if TYPE_CHECKING:
    from overcast.volume.agent.backend import Backend

LOG = log.get(__name__)
TARGET = "target:"  # a temporary volume's migration_status: `target:<volume id>`


def _target_row(volume: Volume, dest_host: str) -> Volume:
    task = volume.task or {}
    return Volume(
        id=new_uuid(),
        project_id=volume.project_id,
        user_id=volume.user_id,
        name=volume.name,
        description=volume.description,
        size=volume.size,
        status="creating",
        attach_status="detached",
        migration_status=f"{TARGET}{volume.id}",
        availability_zone=volume.availability_zone,
        volume_type_id=str(task.get("retype_to") or volume.volume_type_id),
        host=dest_host,
        bootable=volume.bootable,
        multiattach=volume.multiattach,
        metadata_=dict(volume.metadata_ or {}),
        image_metadata=dict(volume.image_metadata or {}),
        name_id=volume.name_id or volume.id,
        consumes_quota=False,
        created_at=utcnow(),
    )


async def migrate(
    backend: Backend, ctx: dict[str, Any], volume_id: str, dest_host: str, server_id: str
) -> None:
    """Source side: the temporary volume on `dest_host`, then compute's swap (which goes on
    without us: compute completes the migration)."""
    target_id: str | None = None
    try:
        async with backend.db.session() as session:
            volume = await session.get(Volume, volume_id)
            if volume is None:
                return
            target = _target_row(volume, dest_host)
            session.add(target)
            volume.task = {**(volume.task or {}), "target": target.id}
        target_id = target.id
        await rpc.call_agent(
            backend.bus,
            dest_host.partition("#")[0],
            "make_migration_target",
            ctx,
            volume_id=target.id,
        )
        client = ComputeClient(backend.endpoint("compute"), await backend.service_token.get())
        await client.swap_volume(server_id, volume_id, target.id)
    except Exception as exc:  # noqa: BLE001 - every failure leaves the volume where it was
        LOG.warning("migration of attached volume %s failed: %s", volume_id, exc)
        await abandon(backend, ctx, volume_id, target_id)


async def make_target(backend: Backend, volume_id: str) -> None:
    """Destination side: the temporary volume's (empty) data; it becomes `available`."""
    async with backend.db.reader() as session:
        row = await session.get(Volume, volume_id)
    if row is None or row.status != "creating" or not str(row.migration_status).startswith(TARGET):
        return
    location = await backend.driver.create_volume(refs.volume(row))
    async with backend.db.session() as session:
        found = await session.get(Volume, volume_id)
        if found is not None and found.status == "creating":
            found.provider_location = location
            found.status = "available"
            found.launched_at = found.updated_at = utcnow()


async def abandon(
    backend: Backend, ctx: dict[str, Any], volume_id: str, target_id: str | None
) -> None:
    """The migration ends in `error`, the volume where it was; the temporary volume goes."""
    async with backend.db.session() as session:
        volume = await session.get(Volume, volume_id)
        target = await session.get(Volume, target_id) if target_id else None
        if volume is not None and volume.migration_status in ("starting", "migrating"):
            outcomes.migration_failed(session, volume, ctx)
        if target is None or target.deleted:
            return
        target.status = "deleting"
        where = target.backend
    if where:
        await rpc.cast_agent(backend.bus, where, "delete_volume", ctx, volume_id=target_id)
