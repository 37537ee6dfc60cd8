"""The updater: makes the listing updates that devices keep as async pendings (written when
the database could not take them at once), oldest first, and drops each once made."""

from __future__ import annotations

from overcast.common import log
from overcast.object_store import updates
from overcast.object_store.drivers import DeviceUnavailable
from overcast.object_store.state import ObjectStoreState

LOG = log.get(__name__)
BATCH = 200


async def run_once(st: ObjectStoreState) -> int:
    """One sweep of every local device; the number of updates made."""
    made = 0
    for node in st.placement.local_devices():
        server = st.placement.server(node)
        try:
            found = await server.pendings(node.device, BATCH)
        except DeviceUnavailable:
            continue
        if not found:
            continue
        st.containers.adjust(await updates.apply(st.db, [p for _key, p in found]))
        for key, _pending in found:
            await server.drop_pending(node.device, key)
        made += len(found)
    if made:
        LOG.info("async pendings made", extra={"fields": {"count": made}})
    return made
