"""The dashboard's one table: server-side sessions, shared by every API worker and node.

A row is found by a hash of the cookie's secret and holds the user's tokens encrypted with a
key derived from that same secret, so the database alone opens no session. `sessions.py`
reads and writes it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from overcast.common.db.base import UTCDateTime, make_base

if TYPE_CHECKING:

    class Base(DeclarativeBase): ...
else:
    Base = make_base("dashboard")


class SessionRow(Base):
    __tablename__ = "dashboard_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the secret
    csrf: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    user_name: Mapped[str] = mapped_column(String(255))
    domain_name: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(String(64))
    project_name: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[Any]] = mapped_column(JSON)
    token: Mapped[str] = mapped_column(Text)  # encrypted, project-scoped
    base_token: Mapped[str] = mapped_column(Text)  # encrypted, the login's token (rescoping)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
