"""Server-side sessions: the browser holds only a random secret in an HttpOnly cookie; the
database row is found by a hash of it and keeps the user's tokens encrypted with a key derived
from it. Rows live in the database so that every API worker and node shares them.

Called by `web.py` (load on every page) and `pages/auth.py` (login, switch project, logout).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select

from overcast.common.db.base import utcnow
from overcast.common.db.session import Database
from overcast.dashboard.models import SessionRow

COOKIE = "overcast_dashboard"


@dataclass
class Session:
    """What a page knows of its user: the project-scoped token and who they are."""

    csrf: str
    user_id: str
    user_name: str
    domain_name: str
    project_id: str
    project_name: str
    roles: list[str]
    token: str
    base_token: str
    expires_at: dt.datetime
    secret: str = field(default="", repr=False)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def _row_id(secret: str) -> str:
    return hashlib.sha256(b"dashboard-session:" + secret.encode()).hexdigest()


def _box(secret: str) -> Fernet:
    key = hashlib.sha256(b"dashboard-tokens:" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


async def create(db: Database, session: Session) -> str:
    """Store `session` under a new secret and return the secret (the cookie's value); expired
    rows are dropped on the way."""
    secret = secrets.token_urlsafe(32)
    box = _box(secret)
    now = utcnow()
    async with db.session() as tx:
        await tx.execute(delete(SessionRow).where(SessionRow.expires_at < now))
        tx.add(
            SessionRow(
                id=_row_id(secret),
                csrf=session.csrf,
                user_id=session.user_id,
                user_name=session.user_name,
                domain_name=session.domain_name,
                project_id=session.project_id,
                project_name=session.project_name,
                roles=session.roles,
                token=box.encrypt(session.token.encode()).decode(),
                base_token=box.encrypt(session.base_token.encode()).decode(),
                expires_at=session.expires_at,
                created_at=now,
            )
        )
    session.secret = secret
    return secret


async def load(db: Database, secret: str) -> Session | None:
    """The live session of `secret`, or None (unknown, expired, or not ours to open)."""
    if not secret or len(secret) > 100:
        return None
    async with db.reader() as tx:
        row = (
            await tx.execute(select(SessionRow).where(SessionRow.id == _row_id(secret)))
        ).scalar_one_or_none()
    if row is None or row.expires_at <= utcnow():
        return None
    box = _box(secret)
    try:
        token = box.decrypt(row.token.encode()).decode()
        base_token = box.decrypt(row.base_token.encode()).decode()
    except InvalidToken:
        return None
    return Session(
        csrf=row.csrf,
        user_id=row.user_id,
        user_name=row.user_name,
        domain_name=row.domain_name,
        project_id=row.project_id,
        project_name=row.project_name,
        roles=list(row.roles),
        token=token,
        base_token=base_token,
        expires_at=row.expires_at,
        secret=secret,
    )


async def rescope(
    db: Database,
    session: Session,
    token: str,
    project: tuple[str, str],
    roles: list[str],
    expires_at: dt.datetime,
) -> None:
    """Point `session` at another project (its new token, roles and expiry)."""
    box = _box(session.secret)
    async with db.session() as tx:
        row = await tx.get(SessionRow, _row_id(session.secret))
        if row is None:
            return
        row.token = box.encrypt(token.encode()).decode()
        row.project_id, row.project_name = project
        row.roles = roles
        row.expires_at = expires_at
    session.token, (session.project_id, session.project_name) = token, project
    session.roles, session.expires_at = roles, expires_at


async def drop(db: Database, secret: str) -> None:
    """Forget the session of `secret` (logout, a token the cloud no longer takes)."""
    async with db.session() as tx:
        await tx.execute(delete(SessionRow).where(SessionRow.id == _row_id(secret)))


def new_csrf() -> str:
    return secrets.token_urlsafe(32)
