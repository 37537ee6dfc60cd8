"""The container syncer, as Swift's container-sync daemon: for each container with
`X-Container-Sync-To` and `X-Container-Sync-Key`, the listing's changes since its sync point
are replayed at the target (`sync.target`) in the order they were made: a PUT of the object
(content, current metadata, and as timestamp its newest change, so a POST's metadata reaches
the target as Swift's sync sends it: the whole object again) or a DELETE, each with the
container's key and, to a realm's cluster, a signed `X-Container-Sync-Auth`. The point moves
past a change once the target took it (or has something as new: 409), so a pass that fails
resumes there. Over HTTP, so the target may be this cloud, another Overcast or a Swift.

Every object node runs the syncer; each container is synced by one node at a time
(`owners.Owners`). Swift's runs beside each of a container's database replicas, splits the rows
between them and has each replay the others' rows late, as a fallback; here the listing is one
shared database. Should two nodes disagree for a moment on the owner, each change is sent
twice and the target refuses the second (409).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from sqlalchemy import String, and_, cast, or_, select

from overcast.common import errors, log
from overcast.object_store import models, sync
from overcast.object_store.daemons.owners import Owners
from overcast.object_store.state import ObjectStoreState

LOG = log.get(__name__)
BATCH = 200
TIMEOUT = 60.0
# What a replayed PUT carries of the object's metadata besides X-Object-Meta-*.
CARRIED = (
    "content-type",
    "content-disposition",
    "content-encoding",
    "etag",
    "x-delete-at",
    "x-object-manifest",
    "x-symlink-target",
    "x-symlink-target-account",
)


async def run_once(st: ObjectStoreState) -> int:
    """One pass over the synced containers; the number of changes replayed."""
    async with st.db.reader() as session:
        rows = (
            await session.execute(
                select(models.Container).where(
                    cast(models.Container.meta, String).like("%x-container-sync-to%")
                )
            )
        ).scalars()
        synced = [r for r in rows if (r.meta or {}).get("x-container-sync-key")]
    owners = Owners(st.placement)
    synced = [r for r in synced if await owners.mine(r.account, r.name)]
    if not synced:
        return 0
    done = 0
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        syncer = Syncer(st, client)
        for container in synced:
            meta = container.meta or {}
            try:
                to = sync.target(meta.get("x-container-sync-to", ""), st.settings)
            except errors.BadRequest as exc:  # the realms changed since it was set
                LOG.warning("container sync target refused", extra={"fields": _at(container, exc)})
                continue
            done += await syncer.container(container, to, meta["x-container-sync-key"])
    return done


class Syncer:
    def __init__(self, st: ObjectStoreState, client: httpx.AsyncClient) -> None:
        self.st = st
        self.client = client

    async def container(self, container: models.Container, to: sync.Target, key: str) -> int:
        async with self.st.db.reader() as session:
            point = await session.get(models.SyncPoint, container.id)
            ts, name = (point.ts, point.name) if point is not None else ("", "")
            rows = list(
                (
                    await session.execute(
                        select(models.Object)
                        .where(
                            models.Object.container_id == container.id,
                            or_(
                                models.Object.changed_ts > ts,
                                and_(models.Object.changed_ts == ts, models.Object.name > name),
                            ),
                        )
                        .order_by(models.Object.changed_ts, models.Object.name)
                        .limit(BATCH)
                    )
                ).scalars()
            )
        done = 0
        for row in rows:
            if not await self._replay(container, row, to, key):
                break
            ts, name = row.changed_ts, row.name
            done += 1
        if done:
            LOG.info(
                "container synced",
                extra={
                    "fields": {
                        "account": container.account,
                        "container": container.name,
                        "changes": done,
                    }
                },
            )
            async with self.st.db.session() as session:
                point = await session.get(models.SyncPoint, container.id)
                if point is None:
                    session.add(models.SyncPoint(container_id=container.id, ts=ts, name=name))
                else:
                    point.ts, point.name = ts, name
        return done

    async def _replay(
        self, container: models.Container, row: models.Object, to: sync.Target, key: str
    ) -> bool:
        """One change made at the target; False when it must be tried again later."""
        url = f"{to.url}/{quote(row.name)}"
        ts = row.ts
        body: Any = None
        headers = {"X-Container-Sync-Key": key}
        if row.deleted:
            method = "DELETE"
        else:
            found = await self.st.replicas.newest(container.account, container.name, row.name)
            if found is None or found.stored.deleted or found.stored.timestamp != row.ts:
                return True  # changed since: the listing has a newer change to replay
            meta = found.stored.metadata
            delete_at = meta.get("X-Delete-At")
            if delete_at and int(delete_at) <= time.time():
                return True  # expired: its delete follows
            if meta.get("X-Static-Large-Object"):
                LOG.warning(
                    "container sync skips SLO manifests", extra={"fields": _at(container, row.name)}
                )
                return True
            method = "PUT"
            ts = max(found.stored.timestamp, found.stored.meta_timestamp or "")
            headers |= {
                k: v
                for k, v in meta.items()
                if k.lower() in CARRIED or k.lower().startswith("x-object-meta-")
            }
            headers["Content-Length"] = str(found.stored.size)
            body = self.st.replicas.read(found, 0, found.stored.size)
        headers["X-Timestamp"] = ts
        if to.realm:
            path = urlsplit(url).path
            headers["X-Container-Sync-Auth"] = sync.auth_header(to, method, path, ts, key)
        try:
            response = await self.client.request(method, url, headers=headers, content=body)
        except httpx.HTTPError as exc:
            LOG.warning("container sync failed", extra={"fields": _at(container, exc)})
            return False
        status = response.status_code
        if status < 300 or status == 409 or (status == 404 and method == "DELETE"):
            return True
        LOG.warning(
            "container sync refused",
            extra={"fields": {**_at(container, response.text[:200]), "status": status}},
        )
        return False


def _at(container: models.Container, error: object) -> dict[str, str]:
    return {"account": container.account, "container": container.name, "error": str(error)}
