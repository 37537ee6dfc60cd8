"""Moving a volume between back ends (retype with `migration_policy=on-demand`, and admins'
`os-migrate_volume`), generically as Cinder's volume manager does when a driver has no faster
way. An attached volume is copied by its server's hypervisor (`attached`); a detached one
here: the destination's agent makes an empty volume of the same id and connects it to this
node; the source's driver writes its data into it; then the row moves in one transaction
(host, location, and for a retype the new type) and the source's copy is removed.

Until that transaction the volume is whole where it was, so any failure (or a crash, see
`recover`) leaves it there with `migration_status` `error` and the destination's copy dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from overcast.common import log
from overcast.common.db.base import utcnow
from overcast.volume import outcomes, rpc
from overcast.volume.agent import attached, refs
from overcast.volume.drivers import VolumeRef
from overcast.volume.models.volumes import Attachment, Volume

if TYPE_CHECKING:
    from overcast.volume.agent.backend import Backend

LOG = log.get(__name__)
IN_PROGRESS = ("starting", "migrating")


def _connector(backend: Backend) -> dict[str, Any]:
    return {"host": backend.node, "initiator": f"migration@{backend.host}"}


# -- the destination's side ----------------------------------------------------------------


async def prepare(
    backend: Backend, volume_id: str, size: int, connector: dict[str, Any]
) -> dict[str, Any]:
    """An empty volume `volume_id` of `size` GiB here, connected for `connector`."""
    ref = VolumeRef(volume_id, size)
    location = await backend.driver.create_volume(ref)
    ref = VolumeRef(volume_id, size, location)
    return {
        "location": location,
        "connection": await backend.driver.initialize_connection(ref, connector),
    }


async def release(
    backend: Backend, volume_id: str, size: int, connector: dict[str, Any], drop: bool
) -> None:
    """Disconnect the copy; with `drop`, remove it (the migration did not finish)."""
    ref = VolumeRef(volume_id, size)
    await backend.driver.terminate_connection(ref, connector)
    if drop:
        await backend.driver.delete_volume(ref)


# -- the source's side ---------------------------------------------------------------------


async def migrate(backend: Backend, ctx: dict[str, Any], volume_id: str, dest_host: str) -> None:
    async with backend.db.session() as session:
        volume = await session.get(Volume, volume_id)
        if volume is None or volume.deleted or volume.migration_status not in IN_PROGRESS:
            return
        if volume.backend != backend.host:
            return
        volume.migration_status = "migrating"
        source, size = refs.volume(volume), volume.size
        servers = await session.scalars(
            select(Attachment.instance_uuid).where(
                Attachment.volume_id == volume_id,
                Attachment.deleted.is_(False),
                Attachment.instance_uuid.is_not(None),
            )
        )
        server = servers.first()
    if server is not None:  # in use: the hypervisor copies (`attached`)
        await attached.migrate(backend, ctx, volume_id, dest_host, server)
        return
    dest = dest_host.partition("#")[0]
    connector = _connector(backend)
    try:
        made = await rpc.call_agent(
            backend.bus,
            dest,
            "prepare_migration",
            ctx,
            volume_id=volume_id,
            size=size,
            connector=connector,
        )
        await backend.driver.copy_volume_to(source, made["connection"])
    except Exception as exc:  # noqa: BLE001 - every failure leaves the volume where it was
        LOG.warning("migration of volume %s to %s failed: %s", volume_id, dest_host, exc)
        await _abort(backend, ctx, volume_id, dest, size, connector)
        return
    async with backend.db.session() as session:
        row = await session.get(Volume, volume_id)
        moved = row is not None and row.migration_status == "migrating" and not row.deleted
        if row is not None and moved:
            _finish(row, dest_host, str(made["location"]))
    await rpc.call_agent(
        backend.bus,
        dest,
        "release_migration",
        ctx,
        volume_id=volume_id,
        size=size,
        connector=connector,
        drop=not moved,
    )
    if moved:
        await backend.driver.delete_volume(source)


def _finish(row: Volume, dest_host: str, location: str) -> None:
    task = dict(row.task or {})
    row.host = dest_host
    row.provider_location = location
    if task.get("retype_to"):
        row.volume_type_id = str(task["retype_to"])
    row.status = str(task.get("then") or "available")
    row.migration_status = "success"
    row.task = {}
    row.updated_at = utcnow()


async def _abort(
    backend: Backend,
    ctx: dict[str, Any],
    volume_id: str,
    dest: str,
    size: int,
    connector: dict[str, Any],
) -> None:
    try:
        await rpc.call_agent(
            backend.bus,
            dest,
            "release_migration",
            ctx,
            volume_id=volume_id,
            size=size,
            connector=connector,
            drop=True,
        )
    except Exception as exc:  # noqa: BLE001 - the copy stays behind; the volume is whole
        LOG.warning("could not drop the copy of %s on %s: %s", volume_id, dest, exc)
    async with backend.db.session() as session:
        row = await session.get(Volume, volume_id)
        if row is not None and row.migration_status in IN_PROGRESS:
            outcomes.migration_failed(session, row, ctx)
