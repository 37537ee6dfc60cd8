"""Revocation events: the record of which tokens stopped being valid before they expire.

Tokens are not stored, so revoking one writes an event that matches it (by audit id, user,
project or application credential, issued before now). Events live in the database and so
survive a restart; each revocation is announced on the bus so every validator's cache drops
at once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common.bus import Bus
from overcast.common.db.base import utcnow
from overcast.common.http.auth import REVOCATION_TOPIC
from overcast.identity import models
from overcast.identity.tokens import TokenData


async def revoke(session: AsyncSession, **match: Any) -> None:
    """Record that tokens matching `match` (issued up to now) are revoked."""
    now = utcnow()
    session.add(models.RevocationEvent(issued_before=now, revoked_at=now, **match))


async def announce(bus: Bus, **detail: Any) -> None:
    """Tell every validator to forget cached validations (after the change is committed)."""
    await bus.fanout(REVOCATION_TOPIC, "revoked", {}, **detail)


async def is_revoked(session: AsyncSession, token: TokenData) -> bool:
    E = models.RevocationEvent

    def either(column: Any, value: str | None) -> Any:
        return column.is_(None) if value is None else or_(column.is_(None), column == value)

    stmt = (
        select(E.id)
        .where(E.issued_before >= token.issued_at - dt.timedelta(microseconds=1))
        .where(either(E.user_id, token.user_id))
        .where(either(E.project_id, token.project_id))
        .where(either(E.application_credential_id, token.application_credential_id))
        .where(or_(E.audit_id.is_(None), E.audit_id == token.audit_ids[0]))
        .where(or_(E.audit_chain_id.is_(None), E.audit_chain_id == token.audit_chain_id))
        .limit(1)
    )
    return (await session.execute(stmt)).first() is not None


async def prune(session: AsyncSession, older_than: dt.datetime) -> None:
    """Drop events that can no longer match a live token."""
    await session.execute(
        delete(models.RevocationEvent).where(models.RevocationEvent.revoked_at < older_than)
    )
