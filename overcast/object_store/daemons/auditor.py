"""The auditor: reads every object on the local devices, at a bounded rate (files and bytes
per second), and has the device quarantine a replica whose content no longer matches its
ETag; the replicator then restores it from a sound replica. Old tombstones are reclaimed on
the way. It walks devices → partitions → suffixes → objects, and starts over
`auditor_interval` after the pass began (as Swift's auditor waits between passes: a small
store would otherwise be walked again every second).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from overcast.common import log
from overcast.object_store import diskfile
from overcast.object_store.drivers import DeviceUnavailable
from overcast.object_store.ring.ring import Node
from overcast.object_store.state import ObjectStoreState

LOG = log.get(__name__)
Item = tuple[Node, int, str, str]  # device, partition, object hash, newest file


class Auditor:
    def __init__(self, st: ObjectStoreState) -> None:
        self.st = st
        self.walk: AsyncIterator[Item] | None = None
        self.quarantined = 0
        self.audited = 0
        self.next_pass = 0.0  # time.monotonic() at which a new walk may begin
        self.overdraft = 0.0  # bytes read beyond the budget (a file is read whole): paid first

    async def objects(self) -> AsyncIterator[Item]:
        placement = self.st.placement
        for node in placement.local_devices():
            server = placement.server(node)
            try:
                for part in await server.partitions(node.device):
                    for suffix in await server.suffix_hashes(node.device, part):
                        files = await server.suffix_files(node.device, part, suffix)
                        for name_hash, names in files.items():
                            state, _meta = diskfile.newest(names)
                            if state is not None:
                                yield node, part, name_hash, state
            except DeviceUnavailable:
                continue

    async def step(self, budget_seconds: float = 1.0) -> int:
        """Audit for about `budget_seconds` worth of the configured rates; files checked."""
        cfg = self.st.settings
        files_left = max(1, int(cfg.auditor_files_per_second * budget_seconds))
        bytes_left = cfg.auditor_bytes_per_second * budget_seconds - self.overdraft
        self.overdraft = max(0.0, -bytes_left)  # what is left of it after this step's budget
        reclaim_before = time.time() - cfg.reclaim_age
        checked = 0
        if self.walk is None:
            now = time.monotonic()
            if now < self.next_pass:
                return 0
            self.next_pass = now + cfg.auditor_interval
            self.walk = self.objects()
        while files_left > 0 and bytes_left > 0:
            try:
                node, part, name_hash, filename = await anext(self.walk)
            except StopAsyncIteration:
                self.walk = None
                break
            server = self.st.placement.server(node)
            try:
                sound, size = await server.audit(
                    node.device, part, name_hash, filename, reclaim_before
                )
            except DeviceUnavailable:
                continue
            checked += 1
            files_left -= 1
            bytes_left -= size
            self.audited += 1
            if not sound:
                self.quarantined += 1
                LOG.warning(
                    "quarantined a replica",
                    extra={"fields": {"device": node.device, "hash": name_hash, "file": filename}},
                )
        self.overdraft = max(0.0, -bytes_left)
        return checked
