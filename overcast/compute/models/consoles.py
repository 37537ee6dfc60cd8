"""Console authorisation tokens (Nova's console_auth_tokens): what a remote console URL's token
opens, until it expires or is used. Only the token's SHA-256 is kept.

Written by `compute.consoles` when a console URL is made; read (and consumed) by the console
proxy, and shown to admins by `GET /os-console-auth-tokens/{token}`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from overcast.common.db.base import UTCDateTime, utcnow
from overcast.compute.models import Base


class ConsoleAuthToken(Base):
    __tablename__ = "compute_console_auth_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    console_type: Mapped[str] = mapped_column(String(32))  # novnc, serial
    instance_uuid: Mapped[str] = mapped_column(String(36), index=True)
    host: Mapped[str] = mapped_column(String(255), default="")
    port: Mapped[int] = mapped_column(Integer, default=0)
    internal_access_path: Mapped[str] = mapped_column(String(255), default="")
    expires: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
