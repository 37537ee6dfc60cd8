"""Listing updates: each object write or delete becomes one row change in its container's
listing, made in batches (every write waiting at a moment shares one transaction, so the
database commits once for many objects) and ordered by timestamp (an older update never
undoes a newer one). When the database cannot take an update, the proxy keeps it on a device
as an async pending and the updater (`updater.py`) makes it later, as Swift's do.
"""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, Text, and_, bindparam, func, insert, select, update

from overcast.common import errors, log
from overcast.common.db.inserts import insert_ignoring
from overcast.common.db.session import Database
from overcast.object_store import models
from overcast.object_store.drivers import DeviceUnavailable, Pending
from overcast.object_store.proxy.placement import Placement
from overcast.object_store.ring.ring import Node

__all__ = ["ListingWriter", "Pending", "apply"]

LOG = log.get(__name__)


@dataclass
class _Waiting:
    pending: Pending
    done: asyncio.Future[None]


class ListingWriter:
    def __init__(self, db: Database, placement: Placement, adjust: Callable[[Usage], None]) -> None:
        self.db = db
        self.placement = placement
        self.adjust = adjust  # the usage changes each committed batch made
        self._queue: list[_Waiting] = []
        self._flusher: asyncio.Task[None] | None = None

    async def follow(self, nodes: list[Node], pending: Pending) -> None:
        """Make the listing follow a change the devices `nodes` took; when the database
        cannot, keep the update on one of those devices for the updater."""
        try:
            await self.record(pending)
            return
        except Exception as exc:  # noqa: BLE001 - any database failure becomes an async pending
            LOG.warning("listing update deferred", extra={"fields": {"error": str(exc)}})
        for node in nodes:
            try:
                await self.placement.server(node).save_pending(node.device, pending)
                return
            except DeviceUnavailable:
                continue
        raise errors.ServiceUnavailable("Neither the listing nor any device took the update")

    async def record(self, pending: Pending) -> None:
        """Apply one update; returns once it is committed (raises if it could not be)."""
        waiting = _Waiting(pending, asyncio.get_running_loop().create_future())
        self._queue.append(waiting)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await waiting.done

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                usage = await apply(self.db, [w.pending for w in batch])
            except Exception as exc:  # noqa: BLE001 - every waiter learns of it
                for w in batch:
                    if not w.done.done():
                        w.done.set_exception(exc)
                continue
            self.adjust(usage)
            for w in batch:
                if not w.done.done():
                    w.done.set_result(None)


Usage = dict[tuple[str, str], tuple[int, int]]  # (account, container) → (objects, bytes) added


async def apply(db: Database, updates: list[Pending]) -> Usage:
    """Make `updates` in one transaction; what they changed in each container's usage.
    Updates for containers that no longer exist are dropped (as Swift's container server
    refuses them). An expiry row outlives a later change of the object: the expirer checks the
    object's own `X-Delete-At` before it deletes."""
    return await db.run_sync(functools.partial(_apply, updates))


def _apply(updates: list[Pending], conn: Connection) -> Usage:
    """`apply` on a synchronous connection, in Core statements built once (the ORM's
    per-statement work, and aiosqlite's hand-overs per statement, were most of the event
    loop's time under PUTs)."""
    usage: Usage = {}
    by_container: dict[tuple[str, str], list[Pending]] = defaultdict(list)
    for p in updates:
        by_container[(p.account, p.container)].append(p)
    ids: dict[tuple[str, str], int] = {}
    for account in {a for a, _ in by_container}:
        names = [n for a, n in by_container if a == account]
        for cid, name in conn.execute(_CONTAINER_IDS, {"account": account, "names": names}):
            ids[(account, name)] = cid
    for key, group in by_container.items():
        cid = ids.get(key)
        if cid is None:
            continue
        newest: dict[str, Pending] = {}
        for p in group:
            if p.name not in newest or p.timestamp > newest[p.name].timestamp:
                newest[p.name] = p
        found = conn.execute(_EXISTING, {"cid": cid, "names": list(newest)})
        existing = {row.name: row for row in found}
        count = size = 0
        inserts: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        posted: list[dict[str, Any]] = []
        expiring: list[dict[str, Any]] = []
        for name, p in newest.items():
            row = existing.get(name)
            if p.extra.get("meta_only"):  # a POST: content type, expiry, the change's time
                if row is None or row.deleted or row.ts > p.timestamp:
                    continue
                posted.append(
                    {
                        "b_cid": cid,
                        "b_name": name,
                        "b_type": p.content_type,
                        "b_changed": max(p.timestamp, row.changed_ts),
                    }
                )
            elif row is not None and row.ts >= p.timestamp:
                continue
            else:
                count, size = _count(row, p, count, size)
                values = {
                    "ts": p.timestamp,
                    "changed_ts": p.timestamp,
                    "size": p.size,
                    "content_type": p.content_type,
                    "etag": p.etag,
                    "deleted": p.deleted,
                }
                if row is None:
                    inserts.append({"container_id": cid, "name": name, **values})
                else:
                    changes.append(
                        {"b_cid": cid, "b_name": name, **{f"b_{k}": v for k, v in values.items()}}
                    )
            delete_at = p.extra.get("delete_at")
            if delete_at and not p.deleted:
                expiring.append(
                    {
                        "account": key[0],
                        "container": key[1],
                        "name": name,
                        "delete_at": int(delete_at),
                    }
                )
        if changes:
            conn.execute(_CHANGE, changes)
        if posted:
            conn.execute(_POSTED, posted)
        if inserts:
            conn.execute(insert(_OBJECTS), inserts)
        if expiring:
            conn.execute(insert_ignoring(conn.dialect.name, models.Expiring), expiring)
        if count or size:
            usage[key] = (count, size)
            conn.execute(_USAGE, {"cid": cid, "count": count, "size": size})
    return usage


_OBJECTS = cast(Table, models.Object.__table__)
_CONTAINERS = cast(Table, models.Container.__table__)
_CONTAINER_IDS = select(_CONTAINERS.c.id, _CONTAINERS.c.name).where(
    _CONTAINERS.c.account == bindparam("account"),
    _CONTAINERS.c.name.in_(bindparam("names", expanding=True)),
)
_EXISTING = select(
    _OBJECTS.c.name,
    _OBJECTS.c.ts,
    _OBJECTS.c.changed_ts,
    _OBJECTS.c.size,
    _OBJECTS.c.deleted,
).where(
    _OBJECTS.c.container_id == bindparam("cid"),
    _OBJECTS.c.name.in_(bindparam("names", expanding=True)),
)
_ONE = and_(
    _OBJECTS.c.container_id == bindparam("b_cid"),
    _OBJECTS.c.name == bindparam("b_name", type_=_OBJECTS.c.name.type),
)
_CHANGE = (
    update(_OBJECTS)
    .where(_ONE)
    .values(
        ts=bindparam("b_ts"),
        changed_ts=bindparam("b_changed_ts"),
        size=bindparam("b_size"),
        content_type=bindparam("b_content_type"),
        etag=bindparam("b_etag"),
        deleted=bindparam("b_deleted"),
    )
)
_POSTED = (
    update(_OBJECTS)
    .where(_ONE)
    .values(
        # a POST without a Content-Type keeps the one listed
        content_type=func.coalesce(
            func.nullif(bindparam("b_type", type_=Text()), ""), _OBJECTS.c.content_type
        ),
        changed_ts=bindparam("b_changed"),
    )
)
_USAGE = (
    update(_CONTAINERS)
    .where(_CONTAINERS.c.id == bindparam("cid"))
    .values(
        object_count=_CONTAINERS.c.object_count + bindparam("count"),
        bytes_used=_CONTAINERS.c.bytes_used + bindparam("size"),
    )
)


def _count(row: Any, p: Pending, count: int, size: int) -> tuple[int, int]:
    """The container's object count and bytes after `p` replaces `row`."""
    if row is not None and not row.deleted:
        count -= 1
        size -= row.size
    if not p.deleted:
        count += 1
        size += p.size
    return count, size
