"""Accounts and containers: their rows, metadata and usage, and a short-lived cache of
container info for the object routes (Swift's proxy keeps the same in memcache).

Called by the API (accounts, containers, objects); the listing rows themselves change only
through `updates.py`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from overcast.common import errors
from overcast.common.db.session import Database
from overcast.object_store import models

CACHE_SECONDS = 2.0


@dataclass(frozen=True)
class ContainerInfo:
    id: int
    account: str
    name: str
    created_ts: str
    put_ts: str
    meta: dict[str, str]
    object_count: int
    bytes_used: int

    def get(self, key: str, default: str = "") -> str:
        return self.meta.get(key.lower(), default)


@dataclass(frozen=True)
class AccountInfo:
    name: str
    created_ts: str
    put_ts: str
    meta: dict[str, str]
    container_count: int = 0
    object_count: int = 0
    bytes_used: int = 0
    exists: bool = True

    def get(self, key: str, default: str = "") -> str:
        return self.meta.get(key.lower(), default)


def merge_meta(current: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    """Set (value) or remove (None or "") metadata, keys lower-cased."""
    out = dict(current)
    for key, value in changes.items():
        if value:
            out[key.lower()] = value
        else:
            out.pop(key.lower(), None)
    return out


def _info(row: models.Container) -> ContainerInfo:
    return ContainerInfo(
        row.id,
        row.account,
        row.name,
        row.created_ts,
        row.put_ts,
        dict(row.meta or {}),
        row.object_count,
        row.bytes_used,
    )


@dataclass
class Containers:
    db: Database
    _cache: dict[tuple[str, str], tuple[float, ContainerInfo | None]] = field(default_factory=dict)
    _accounts: dict[str, tuple[float, AccountInfo]] = field(default_factory=dict)

    def forget(self, account: str, name: str) -> None:
        self._cache.pop((account, name), None)
        self._accounts.pop(account, None)

    def adjust(self, usage: dict[tuple[str, str], tuple[int, int]]) -> None:
        """Keep cached usage right after listing changes (rather than dropping the entries:
        every object write would then read its container and account again)."""
        for (account, name), (count, size) in usage.items():
            hit = self._cache.get((account, name))
            if hit is not None and hit[1] is not None:
                info = hit[1]
                changed = replace(
                    info, object_count=info.object_count + count, bytes_used=info.bytes_used + size
                )
                self._cache[(account, name)] = (hit[0], changed)
            held = self._accounts.get(account)
            if held is not None:
                acct = held[1]
                self._accounts[account] = (
                    held[0],
                    replace(
                        acct,
                        object_count=acct.object_count + count,
                        bytes_used=acct.bytes_used + size,
                    ),
                )

    async def info(self, account: str, name: str, fresh: bool = False) -> ContainerInfo | None:
        key = (account, name)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now and not fresh:
            return hit[1]
        async with self.db.reader() as session:
            row = (
                await session.execute(
                    select(models.Container).where(
                        models.Container.account == account, models.Container.name == name
                    )
                )
            ).scalar_one_or_none()
        found = _info(row) if row is not None else None
        if len(self._cache) > 20000:
            self._cache.clear()
        self._cache[key] = (now + CACHE_SECONDS, found)
        return found

    async def require(self, account: str, name: str) -> ContainerInfo:
        found = await self.info(account, name)
        if found is None:
            raise errors.NotFound()
        return found

    async def put(self, account: str, name: str, ts: str, changes: dict[str, str | None]) -> bool:
        """Create the container (and its account) or update its metadata; True if created."""
        self.forget(account, name)
        async with self.db.session() as session:
            await _ensure_account(session, account, ts)
            row = (
                await session.execute(
                    select(models.Container).where(
                        models.Container.account == account, models.Container.name == name
                    )
                )
            ).scalar_one_or_none()
            if row is not None:
                row.meta = merge_meta(row.meta or {}, changes)
                row.put_ts = ts
                return False
            session.add(
                models.Container(
                    account=account,
                    name=name,
                    created_ts=ts,
                    put_ts=ts,
                    meta=merge_meta({}, changes),
                    object_count=0,
                    bytes_used=0,
                )
            )
            try:
                await session.flush()
            except IntegrityError:
                raise errors.Conflict("The container is being created by another request") from None
        return True

    async def post(self, account: str, name: str, changes: dict[str, str | None]) -> None:
        self.forget(account, name)
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(models.Container).where(
                        models.Container.account == account, models.Container.name == name
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                raise errors.NotFound()
            row.meta = merge_meta(row.meta or {}, changes)

    async def delete(self, account: str, name: str) -> None:
        """Delete an empty container (409 when it holds objects)."""
        self.forget(account, name)
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(models.Container).where(
                        models.Container.account == account, models.Container.name == name
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                raise errors.NotFound()
            live = await session.scalar(
                select(models.Object.name)
                .where(models.Object.container_id == row.id, models.Object.deleted.is_(False))
                .limit(1)
            )
            if live is not None:
                raise errors.Conflict("There was a conflict when trying to complete your request.")
            await session.execute(delete(models.Object).where(models.Object.container_id == row.id))
            await session.delete(row)

    # -- accounts ----------------------------------------------------------------------------

    async def account(self, account: str, fresh: bool = False) -> AccountInfo:
        """The account with its usage; an account nobody wrote to yet exists empty (Swift's
        keystoneauth creates accounts on first use). Remembered for a moment unless `fresh`."""
        now = time.monotonic()
        hit = self._accounts.get(account)
        if hit is not None and hit[0] > now and not fresh:
            return hit[1]
        found = await self._account(account)
        if len(self._accounts) > 20000:
            self._accounts.clear()
        self._accounts[account] = (now + CACHE_SECONDS, found)
        return found

    async def _account(self, account: str) -> AccountInfo:
        async with self.db.reader() as session:
            row = await session.get(models.Account, account)
            usage = (
                await session.execute(
                    select(
                        func.count(models.Container.id),
                        func.coalesce(func.sum(models.Container.object_count), 0),
                        func.coalesce(func.sum(models.Container.bytes_used), 0),
                    ).where(models.Container.account == account)
                )
            ).one()
        if row is None:
            return AccountInfo(account, "0", "0", {}, exists=False)
        return AccountInfo(
            account,
            row.created_ts,
            row.put_ts,
            dict(row.meta or {}),
            int(usage[0]),
            int(usage[1]),
            int(usage[2]),
        )

    async def post_account(self, account: str, ts: str, changes: dict[str, str | None]) -> None:
        self._accounts.pop(account, None)
        async with self.db.session() as session:
            row = await _ensure_account(session, account, ts)
            row.meta = merge_meta(row.meta or {}, changes)
            row.put_ts = ts


async def _ensure_account(session: Any, account: str, ts: str) -> models.Account:
    row: models.Account | None = await session.get(models.Account, account)
    if row is None:
        row = models.Account(name=account, created_ts=ts, put_ts=ts, meta={})
        session.add(row)
        await session.flush()
    return row
