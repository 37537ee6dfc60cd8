"""What the volume agent tells compute about a volume its servers use (Cinder's
`compute.nova` events): `volume-extended` after a volume grew, `volume-reimaged` after an
`os-reimage`, each tagged with the volume id, through `os-server-external-events`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from overcast.clients.compute import ComputeClient
from overcast.common import errors, log
from overcast.volume.models.volumes import Attachment, Volume

if TYPE_CHECKING:
    from overcast.volume.agent.backend import Backend

LOG = log.get(__name__)


async def servers(session: Any, volume: Volume, *statuses: str) -> list[str]:
    """The servers holding a live attachment of `volume` (in one of `statuses`, if given)."""
    query = select(Attachment.instance_uuid).where(
        Attachment.volume_id == volume.id, Attachment.deleted.is_(False)
    )
    if statuses:
        query = query.where(Attachment.attach_status.in_(statuses))
    return sorted({uuid for uuid in await session.scalars(query) if uuid})


async def send(
    backend: Backend, name: str, volume_id: str, uuids: list[str], status: str = "completed"
) -> bool:
    """Send compute the event `name` for each server; whether every one was delivered."""
    events = [{"name": name, "server_uuid": s, "tag": volume_id, "status": status} for s in uuids]
    try:
        client = ComputeClient(backend.endpoint("compute"), await backend.service_token.get())
        answered = await client.external_events(events)
    except errors.OvercastError as exc:
        LOG.warning("compute did not take %s for %s: %s", name, volume_id, exc.message)
        return False
    return all(e.get("code") == 200 for e in answered)
