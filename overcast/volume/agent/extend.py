"""Growing a volume, also while attached (Cinder's extend at 3.42 and later). The driver grows
the data; then compute gets the `volume-extended` event (tag: the volume id) for each server
the volume is attached to, and resizes the guest's disk. Where a hypervisor holds the data
and alone may grow it (a qcow2 image open in QEMU), the volume stays `extending` until compute
reports how it ended (`os-extend_volume_completion`), as Cinder's NFS volumes do."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from overcast.common import errors, log
from overcast.common.db.base import utcnow
from overcast.volume import messages, outcomes
from overcast.volume.agent import compute_events, refs
from overcast.volume.models.volumes import Volume

if TYPE_CHECKING:
    from overcast.volume.agent.backend import Backend

LOG = log.get(__name__)


async def extend(backend: Backend, ctx: dict[str, Any], volume_id: str, new_size: int) -> None:
    async with backend.db.reader() as session:
        volume = await session.get(Volume, volume_id)
        if volume is None or volume.status != "extending":
            return
        servers = (
            await compute_events.servers(session, volume, "attached")
            if volume.task.get("then") == "in-use"
            else []
        )
    try:
        grown = await backend.driver.extend_volume(
            refs.volume(volume, volume.task.get("extend_from")), new_size
        )
        if not grown and not servers:
            raise errors.Conflict("the volume is held open by no server we know")
    except Exception as exc:  # noqa: BLE001 - every driver failure ends the same way
        LOG.warning("extend of volume %s failed: %s", volume_id, exc)
        await failed(backend, ctx, volume_id)
        return
    if grown:
        async with backend.db.session() as session:
            row = await session.get(Volume, volume_id)
            if row is None or row.status != "extending":
                return
            row.status = str(row.task.get("then") or "available")
            row.size = new_size
            row.task = {}
            row.updated_at = utcnow()
    if servers:
        delivered = await compute_events.send(backend, "volume-extended", volume_id, servers)
        if not delivered and not grown:
            await failed(backend, ctx, volume_id)


async def failed(backend: Backend, ctx: dict[str, Any], volume_id: str) -> None:
    """The extend ended in `error_extending` with a message, its old size (and quota) back."""
    async with backend.db.session() as session:
        row = await session.get(Volume, volume_id)
        if row is not None and row.status == "extending":
            row.size = int(row.task.get("extend_from") or row.size)
            outcomes.volume_failed(
                session,
                row,
                action=messages.EXTEND,
                detail=messages.DRIVER_EXTEND,
                ctx=ctx,
                status="error_extending",
            )
