"""The replicator: makes every primary of a partition hold the newest state of each object,
as Swift's object replicator does by pushing. For each partition a device holds, it compares
suffix hashes with the partition's other primaries and pushes the files they lack (data,
tombstones, metas); a device that is only a handoff for a partition pushes it to the
primaries and drops it once all of them have it. Old tombstones are reclaimed on the way.
"""

from __future__ import annotations

import time

from overcast.common import log
from overcast.object_store import diskfile
from overcast.object_store.drivers import DeviceUnavailable, ObjectServer
from overcast.object_store.ring.ring import Node
from overcast.object_store.state import ObjectStoreState

LOG = log.get(__name__)


CHUNK = 64  # partitions whose suffix hashes are asked of a device at once


async def run_once(st: ObjectStoreState) -> dict[str, int]:
    """One pass over every local device; counts of what it did."""
    stats = {"partitions": 0, "pushed": 0, "handoffs_dropped": 0, "reclaimed": 0}
    ring = st.placement.ring
    # Each partition's hashes are computed once a pass, whether asked of its device as this
    # device or as another's peer (three devices of one node would hash each three times);
    # what changed since is seen by the next pass.
    seen: Hashes = {}
    for node in st.placement.local_devices():
        server = st.placement.server(node)
        try:
            parts = await server.partitions(node.device)
        except DeviceUnavailable:
            continue
        for start in range(0, len(parts), CHUNK):
            chunk = parts[start : start + CHUNK]
            try:
                mine = await _hashes(st, node, chunk, seen)
            except DeviceUnavailable:
                break
            peers = {part: [p for p in ring.primaries(part) if p.id != node.id] for part in chunk}
            theirs = await _peer_hashes(st, peers, seen)
            for part in chunk:
                stats["partitions"] += 1
                try:
                    pushed, complete = await sync_partition(
                        st, node, server, part, mine[part], peers[part], theirs
                    )
                except DeviceUnavailable:
                    continue
                stats["pushed"] += pushed
                if complete and node not in ring.primaries(part):
                    await server.drop_partition(node.device, part)
                    stats["handoffs_dropped"] += 1
    if stats["pushed"] or stats["handoffs_dropped"]:
        LOG.info("replication pass", extra={"fields": stats})
    return stats


Hashes = dict[tuple[int, int], dict[str, str] | None]  # (peer device id, part) → None if down


async def _hashes(
    st: ObjectStoreState, node: Node, parts: list[int], seen: Hashes
) -> dict[int, dict[str, str]]:
    """The suffix hashes `node` holds of `parts`: those not `seen` this pass asked of it."""
    missing = [part for part in parts if seen.get((node.id, part)) is None]
    if missing:
        got = await st.placement.server(node).suffix_hashes_of(node.device, missing)
        for part in missing:
            seen[(node.id, part)] = got.get(part, {})
    return {part: seen[(node.id, part)] or {} for part in parts}


async def _peer_hashes(st: ObjectStoreState, peers: dict[int, list[Node]], seen: Hashes) -> Hashes:
    """The suffix hashes every peer holds of the partitions, asked of each peer device once
    (None for a peer that is down)."""
    wanted: dict[Node, list[int]] = {}
    for part, nodes in peers.items():
        for peer in nodes:
            wanted.setdefault(peer, []).append(part)
    found: Hashes = {}
    for peer, parts in wanted.items():
        try:
            got = await _hashes(st, peer, parts, seen)
        except DeviceUnavailable:
            got = {}
        for part in parts:
            found[(peer.id, part)] = got.get(part)
    return found


async def sync_partition(
    st: ObjectStoreState,
    node: Node,
    server: ObjectServer,
    part: int,
    local: dict[str, str],
    peers: list[Node],
    theirs: Hashes,
) -> tuple[int, bool]:
    """Push what `peers` lack of this device's partition; (files pushed, every peer synced)."""
    pushed = 0
    complete = True
    reclaim_before = time.time() - st.settings.reclaim_age
    for peer in peers:
        peer_server = st.placement.server(peer)
        remote = theirs[(peer.id, part)]
        if remote is None:
            complete = False
            continue
        for suffix, digest in local.items():
            if remote.get(suffix) == digest:
                continue
            try:
                pushed += await _push_suffix(
                    server, node, peer_server, peer, part, suffix, reclaim_before
                )
            except DeviceUnavailable:
                complete = False
                break
    return pushed, complete


async def _push_suffix(
    server: ObjectServer,
    node: Node,
    peer_server: ObjectServer,
    peer: Node,
    part: int,
    suffix: str,
    reclaim_before: float,
) -> int:
    mine = await server.suffix_files(node.device, part, suffix)
    theirs = await peer_server.suffix_files(peer.device, part, suffix)
    pushed = 0
    for name_hash, names in mine.items():
        state, meta = diskfile.newest(names)
        if state is None:
            continue
        if state.endswith(".ts") and float(state[:-3]) < reclaim_before:
            continue  # an old tombstone: nothing to spread (the auditor reclaims it)
        their_state, their_meta = diskfile.newest(theirs.get(name_hash, []))
        wanted = []
        if their_state is None or their_state < state:
            wanted.append(state)
        if meta is not None and (their_meta is None or their_meta < meta):
            if their_state is None or their_state <= meta:
                wanted.append(meta)
        for filename in wanted:
            raw = await server.read_file(node.device, part, name_hash, filename)
            await peer_server.write_file(peer.device, part, name_hash, filename, raw)
            pushed += 1
    return pushed
