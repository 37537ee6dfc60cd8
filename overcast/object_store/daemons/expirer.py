"""The expirer: deletes objects whose `X-Delete-At` has passed (they already read as 404),
as Swift's object expirer does. It checks the object still carries the same `X-Delete-At`
before deleting it, so an object rewritten or re-timed since is left alone. Every object node
runs it; each container's expiring objects are deleted by one of them (`owners.Owners`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import delete, select

from overcast.common import log
from overcast.object_store import constraints, models
from overcast.object_store.daemons.owners import Owners
from overcast.object_store.drivers import Pending
from overcast.object_store.state import ObjectStoreState

LOG = log.get(__name__)
BATCH = 500
T = TypeVar("T")


async def run_once(st: ObjectStoreState) -> int:
    """Delete what is due; the number of objects deleted."""
    now = int(time.time())

    async def page(offset: int) -> list[models.Expiring]:
        E = models.Expiring
        async with st.db.reader() as session:
            found = await session.execute(
                select(E)
                .where(E.delete_at <= now)
                .order_by(E.delete_at, E.account, E.container, E.name)
                .offset(offset)
                .limit(BATCH)
            )
            return list(found.scalars())

    owners = Owners(st.placement)
    due = await owned(page, lambda row: owners.mine(row.account, row.container))
    deleted = 0
    for row in due:
        found = await st.replicas.newest(row.account, row.container, row.name)
        if (
            found is not None
            and not found.stored.deleted
            and found.stored.metadata.get("X-Delete-At") == str(row.delete_at)
        ):
            ts = constraints.now()
            nodes = await st.replicas.delete(found, ts)
            await st.listings.follow(nodes, Pending(row.account, row.container, row.name, ts, True))
            deleted += 1
        async with st.db.session() as session:
            await session.execute(
                delete(models.Expiring).where(
                    models.Expiring.account == row.account,
                    models.Expiring.container == row.container,
                    models.Expiring.name == row.name,
                    models.Expiring.delete_at == row.delete_at,
                )
            )
    if deleted:
        LOG.info("expired objects deleted", extra={"fields": {"count": deleted}})
    return deleted


async def owned(
    page: Callable[[int], Awaitable[list[T]]], mine: Callable[[T], Awaitable[bool]]
) -> list[T]:
    """Up to `BATCH` rows this node owns, in the pages' order: read past the rows of other
    nodes' containers, so that many of theirs never hold back this node's own."""
    found: list[T] = []
    offset = 0
    while len(found) < BATCH:
        rows = await page(offset)
        found += [row for row in rows if await mine(row)]
        if len(rows) < BATCH:
            break
        offset += len(rows)
    return found[:BATCH]
